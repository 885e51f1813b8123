/* The helpdesk queue redraws itself from /helpdesk/queue.json, so a new ticket appears
   without reloading the page. */
"use strict";
(function () {
  var table = document.getElementById("queue");
  if (!table) return;
  var body = table.tBodies[0];
  var count = document.getElementById("queue-count");
  var problem = document.getElementById("queue-error");
  var el = window.DDA.el;

  function row(ticket) {
    var tr = el("tr", ticket.urgent ? "urgent" : "");
    tr.dataset.ticket = ticket.id;
    var th = el("th");
    th.scope = "row";
    var link = el("a", null, "#" + ticket.id);
    link.href = ticket.url;
    th.appendChild(link);
    tr.appendChild(th);
    [["Priority", ticket.priority_label], ["Reason", ticket.reason], ["Language", ticket.language],
     ["Waiting", ticket.waiting], ["Who has it", ticket.assigned_to || "nobody yet"]].forEach(function (cell) {
      var td = el("td", null, cell[1]);
      td.dataset.label = cell[0];  /* shown before the value when the table becomes cards on a phone */
      tr.appendChild(td);
    });
    return tr;
  }

  function draw(data) {
    var rows = document.createDocumentFragment();
    if (!data.tickets.length) {
      var empty = el("tr", "empty");
      var cell = el("td", null, "Nobody is waiting.");
      cell.colSpan = 6;
      empty.appendChild(cell);
      rows.appendChild(empty);
    }
    data.tickets.forEach(function (ticket) { rows.appendChild(row(ticket)); });
    body.replaceChildren(rows);
    count.textContent = data.count;
    problem.hidden = true;
  }

  function failed(error) {
    problem.textContent = "Live updates paused: " + error.message;
    problem.hidden = false;
  }

  window.DDA.poll(table.dataset.source, Number(table.dataset.refresh) || 3, draw, failed);
})();
