"""How our workers get computations: flat protos, secure sums lowered.

TFF's C++ workers have no secure-sum protocol ("Cannot embed a federated
value"); in simulation the same clipped, quantized integers are summed in the
clear, as TFF's own test contexts do (see tff_lstm/aggregation/secure.py for
what that does and does not show).
"""

import tensorflow_federated as tff


def call_dominant(comp):
  """`comp` in TFF's flat call-dominant form: same computation, shallow proto.

  Protobuf refuses messages nested more than 100 deep; distributed DP's
  computations, inlined into a learning process or with secure sums lowered,
  nest deeper than that.
  """
  flat = tff.framework.to_call_dominant(comp.to_building_block())
  return tff.framework.ConcreteComputation(
      computation_proto=flat.proto,
      context_stack=tff.framework.get_context_stack(),
      annotated_type=comp.type_signature)


def _insecure(comp):
  return tff.backends.test.replace_secure_intrinsics_with_bodies(
      call_dominant(comp))


def simulation_compiler(comp):
  """TFF's native compiler, after lowering secure sums to plain sums."""
  return tff.backends.native.desugar_and_transform_to_native(_insecure(comp))


def mergeable_compiler(comp):
  """TFF's compiler to mergeable form, after lowering secure sums to plain sums.

  For rounds split across workers on other hosts: TFF's mergeable compiler
  splits a round at plain aggregations only.
  """
  # Keep the Python containers of the result (e.g. LearningProcessOutput).
  insecure = tff.framework.ConcreteComputation.with_type(
      _insecure(comp), comp.type_signature)
  return tff.backends.native.compile_to_mergeable_comp_form(insecure)
