// Keeps the scoreboard table current: rebuilds it from /scores.json every two seconds (text only).
"use strict";
(function () {
  function clock(wall) {
    return wall ? new Date(wall * 1000).toTimeString().slice(0, 8) : "-";
  }
  function cell(row, text, cls) {
    const td = document.createElement("td");
    td.textContent = String(text);
    if (cls) td.className = cls;
    row.appendChild(td);
  }
  async function refresh() {
    const table = document.getElementById("scores");
    if (!table) return;
    try {
      const scores = await (await fetch("/scores.json", { cache: "no-store" })).json();
      const body = document.createElement("tbody");
      scores.teams.forEach(function (t, i) {
        const row = document.createElement("tr");
        row.dataset.team = t.team;
        cell(row, i + 1, "num");
        cell(row, t.team);
        cell(row, t.total, "num total");
        scores.exercises.forEach(function (x) { cell(row, t.exercises[x.name], "num"); });
        cell(row, clock(t.last_solve));
        body.appendChild(row);
      });
      table.replaceChild(body, table.tBodies[0]);
    } catch (err) { /* the board restarts or the network blinks: try again next time */ }
  }
  setInterval(refresh, 2000);
})();
