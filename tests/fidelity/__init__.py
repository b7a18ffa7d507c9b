"""The fidelity catalogue: small nbgrader assignments that exercise every nbgrader feature an instructor relies on.

tests/test_fidelity.py grades the same honest submissions of each one with plain ``nbgrader autograde`` and with
``autograder grade`` and compares the two gradebooks cell by cell. ``notebook.py`` holds the builder, one module
per assignment holds its cells and its students' variants, and ``catalogue.py`` lists them (and the fixtures of
nbgrader's own test suite that are compared the same way).
"""
