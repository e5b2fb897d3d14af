"""The class's scoreboard: public scoreboard, the teams' submission form and API, and the
instructor's overview and exports (HTTP basic auth with the instructor's token).

Teams see the scoreboard and, with their token, their own submissions: never the ground truth.
Pages are rendered here (they work without script); page/board.js only refreshes the table.
Usage (the class's scoreboard container): python3 -m mtdlab.classroom.server CLASS_FOLDER PORT
"""
from __future__ import annotations

import hashlib
import hmac
import html
import sys
import time
from pathlib import Path

from flask import Flask, Response, abort, jsonify, request
from werkzeug.serving import make_server

from mtdlab.classroom.board import BoardError, ClassBoard
from mtdlab.live.pages import serve_page_files, strict_app

PAGE_DIR = Path(__file__).resolve().parent / "page"
MAX_BODY = 64 * 1024
CONTENT_SECURITY_POLICY = ("default-src 'self'; style-src 'self'; script-src 'self'; connect-src 'self'; "
                           "form-action 'self'; frame-ancestors 'none'")
e = html.escape


def page(title: str, body: str, script: bool = False) -> str:
    return (f"<!doctype html><html lang=en><meta charset=utf-8><title>{e(title)}</title>"
            f"<meta name=viewport content='width=device-width'><link rel=stylesheet href='/page/board.css'>"
            + ("<script src='/page/board.js' defer></script>" if script else "")
            + f"<nav><a href='/'>Scoreboard</a> <a href='/submit'>Submit</a></nav><main>{body}</main></html>")


def clock(wall: float | None) -> str:
    return time.strftime("%H:%M:%S", time.localtime(wall)) if wall else "-"


def scoreboard_table(scores: dict) -> str:
    head = "".join(f"<th>{e(x['title'])}</th>" for x in scores["exercises"])
    rows = []
    for rank, r in enumerate(scores["teams"], 1):
        cells = "".join(f"<td class=num>{r['exercises'][x['name']]}</td>" for x in scores["exercises"])
        rows.append(f"<tr data-team='{e(r['team'])}'><td class=num>{rank}</td><td>{e(r['team'])}</td>"
                    f"<td class='num total'>{r['total']}</td>{cells}<td>{clock(r['last_solve'])}</td></tr>")
    return (f"<table id=scores><thead><tr><th>#</th><th>Team</th><th>Total</th>{head}<th>Last solve</th></tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>")


def submissions_table(rows: list[dict], with_team: bool = False) -> str:
    body = "".join(
        f"<tr class='{'ok' if s['reason'] == 'accepted' else 'no'}'><td>{clock(s['wall'])}</td>"
        + (f"<td>{e(s['team'])}</td>" if with_team else "")
        + f"<td>{e(s['exercise'])}</td><td><code>{e(s['answer'][:120])}</code></td><td class=num>{s['points']}</td>"
          f"<td>{e(s['reason'])}</td><td>{e(s['detail'])}</td></tr>" for s in reversed(rows))
    team_head = "<th>Team</th>" if with_team else ""
    return (f"<table class=subs><thead><tr><th>Time</th>{team_head}<th>Exercise</th><th>Answer</th><th>Points</th>"
            f"<th>Result</th><th>Why</th></tr></thead><tbody>{body}</tbody></table>")


def make_app(board: ClassBoard) -> Flask:
    app = strict_app("mtdlab.classroom", CONTENT_SECURITY_POLICY)
    serve_page_files(app, PAGE_DIR, ("board.js", "board.css"))
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY

    @app.get("/")
    def index():
        return page(f"{board.name}: scoreboard", f"<h1>Class {e(board.name)}</h1>{scoreboard_table(board.scores())}", script=True)

    @app.get("/scores.json")
    def scores():
        return jsonify(board.scores())

    @app.get("/healthz")
    def healthz():
        return {"ok": True, "class": board.name}

    def form(message: str = "", token: str = "") -> str:
        options = "".join(f"<option value='{e(x.name)}'>{e(x.title)} ({e(x.answer_format)})</option>" for x in board.exercises)
        return page(f"{board.name}: submit",
                    f"<h1>Submit an answer</h1>{message}<form method=post action='/submit'>"
                    f"<label>Team token <input name=token type=password required value='{e(token)}' autocomplete=off></label>"
                    f"<label>Exercise <select name=exercise>{options}</select></label>"
                    f"<label>Answer <textarea name=answer rows=3 required></textarea></label>"
                    f"<button type=submit>Submit</button></form>")

    @app.get("/submit")
    def submit_form():
        return form()

    @app.post("/submit")
    def submit_post():
        token = request.form.get("token", "")
        try:
            team, verdict = board.submit(token, request.form.get("exercise", ""), request.form.get("answer", ""), via="web")
        except BoardError as exc:
            return form(f"<p class='verdict no'>{e(str(exc))}</p>"), 400
        result = (f"<p class='verdict {'ok' if verdict.accepted else 'no'}' id=verdict>{e(team)}: "
                  f"{e(verdict.reason)}, {verdict.points} points. {e(verdict.detail)}</p>")
        return form(result + f"<h2>Your team's submissions</h2>{submissions_table(board.team_submissions(team))}", token)

    @app.post("/api/submit")
    def api_submit():
        body = request.get_json(silent=True) or {}
        try:
            team, verdict = board.submit(str(body.get("token", "")), str(body.get("exercise", "")),
                                         str(body.get("answer", "")), via=str(body.get("via", "api"))[:16])
        except BoardError as exc:
            return jsonify({"error": str(exc)}), 400
        return jsonify({"team": team, "points": verdict.points, "reason": verdict.reason, "detail": verdict.detail})

    def instructor() -> None:
        auth = request.authorization
        if not auth or not board.is_instructor(auth.password or ""):
            abort(Response("the instructor's token (roster.json) is needed", 401,
                           {"WWW-Authenticate": 'Basic realm="mtdlab instructor"'}))

    def csrf() -> str:
        """A form field only the instructor's own page carries (the browser adds basic auth anywhere)."""
        return hmac.new(board.instructor_token.encode(), b"mtdlab-instructor-form", hashlib.sha256).hexdigest()

    def controls(team: str, service: str) -> str:
        return "".join(f"<form method=post action='/instructor/control' class=inline><input type=hidden name=csrf value='{csrf()}'>"
                       f"<input type=hidden name=team value='{e(team)}'><input type=hidden name=service value='{e(service)}'>"
                       f"<button name=action value={a}>{a}</button></form>" for a in ("hop", "pause", "resume"))

    @app.get("/instructor")
    def overview(message: str = ""):
        instructor()
        rows = []
        for team, truth in board.truths.items():
            truth.refresh()
            live = {i.service: i for i in truth.instances.values() if i.ended is None}
            hops = sum(1 for i in truth.instances.values() if i.hop >= 1)
            last = max((i.started for i in truth.instances.values()), default=None)
            serving = "".join(f"<div>{e(s)} on {live[s].port} (hop {live[s].hop}) {controls(team, s)}</div>" for s in sorted(live))
            view = board.live_views.get(team)
            link = f" <a href='{e(view)}'>live view</a>" if view else ""
            rows.append(f"<tr><td>{e(team)}{link}</td><td class=num>{hops}</td><td>{clock(last)}</td><td>{serving}</td></tr>")
        body = (f"<h1>Class {e(board.name)}: instructor</h1>{message}<p><a href='/instructor/export.csv'>submissions (CSV)</a> "
                f"<a href='/instructor/export.json'>scores and submissions (JSON)</a></p>"
                f"<h2>Labs</h2><table><thead><tr><th>Team</th><th>Instances since start</th><th>Last start</th>"
                f"<th>Serving now (ground truth), and the team's console</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
                f"<h2>Scores</h2>{scoreboard_table(board.scores())}"
                f"<h2>Submissions</h2>{submissions_table([s.row() for s in board.submissions], with_team=True)}")
        return page(f"{board.name}: instructor", body)

    @app.post("/instructor/control")
    def control():
        instructor()
        if not hmac.compare_digest(request.form.get("csrf", ""), csrf()):
            abort(403)
        try:
            said = board.control(request.form.get("team", ""), request.form.get("service", ""), request.form.get("action", ""))
            return overview(f"<p class='verdict ok' id=control>{e(said)}</p>")
        except BoardError as exc:
            return overview(f"<p class='verdict no' id=control>{e(str(exc))}</p>"), 400

    @app.get("/instructor/api/pending")
    def pending():
        instructor()
        return jsonify(board.pending())

    @app.post("/instructor/api/result")
    def result():
        instructor()
        body = request.get_json(silent=True) or {}
        try:
            verdict = board.resolve(str(body.get("ref", "")), body.get("figures"), body.get("error"))
        except BoardError as exc:
            return jsonify({"error": str(exc)}), 400
        return jsonify({"points": verdict.points, "reason": verdict.reason, "detail": verdict.detail})

    @app.get("/instructor/export.csv")
    def export_csv():
        instructor()
        return Response(board.export_csv(), mimetype="text/csv",
                        headers={"Content-Disposition": f"attachment; filename={board.name}-submissions.csv"})

    @app.get("/instructor/export.json")
    def export_json():
        instructor()
        return Response(board.export_json(), mimetype="application/json")

    return app


def main() -> int:
    folder, port = Path(sys.argv[1]), int(sys.argv[2])
    board = ClassBoard(folder)
    server = make_server("0.0.0.0", port, make_app(board), threaded=True)
    print(f"scoreboard of class {board.name} on port {port}", file=sys.stderr)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
