"""The classroom's grading side: what each team's truth log says each instance served
(truth.py), how a submission is judged (checking.py, with the exercises in exercises/), the
submissions and scores of a class (board.py) and the scoreboard's web pages (server.py).

Runs on the instructor's side only (the scoreboard container, `mtdlab class submit`); nothing
here is reachable from a workstation but the scoreboard's public pages.
"""
