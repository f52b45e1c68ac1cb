"""tff-lstm: federated recurrent models on TensorFlow Federated.

Dependencies are installed from requirements/lock.txt with `pip install --no-deps`
(see README, "Why a lock file"); `install_requires` names the direct dependencies for
reference only, because TFF 0.87's own pins cannot be resolved on Python 3.11.
"""

import setuptools

setuptools.setup(
    name='tff-lstm',
    version='0.1.0',
    description='Federated LSTM/GRU/RNN research code on TensorFlow Federated.',
    python_requires='>=3.9,<3.12',
    packages=setuptools.find_packages(include=['tff_lstm', 'tff_lstm.*']),
    install_requires=[
        'absl-py',
        'dp-accounting',
        'matplotlib',
        'numpy<2',
        'tensorflow>=2.14,<2.15',
        'tensorflow-federated==0.87.0',
        'tensorflow-privacy==0.9.0',
        'tenseal==0.3.18',
        'tqdm',
    ],
)
