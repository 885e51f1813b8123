/* The helpdesk queue redraws itself from /helpdesk/queue.json, so a new ticket appears
   without reloading the page, and the tab's title counts the tickets that arrived since the
   helper last looked at it. */
"use strict";
(function () {
  var table = document.getElementById("queue");
  if (!table) return;
  var body = table.tBodies[0];
  var count = document.getElementById("queue-count");
  var problem = document.getElementById("queue-error");
  var el = window.DDA.el;
  var title = document.title;
  var seen = {};
  Array.prototype.forEach.call(body.querySelectorAll("tr[data-ticket]"), function (tr) { seen[tr.dataset.ticket] = true; });
  var fresh = 0;

  function cell(label, text) {
    var td = el("td", null, text);
    td.dataset.label = label;  /* shown before the value when the table becomes cards on a phone */
    return td;
  }

  function preview(ticket) {
    var td = cell("Last message");
    td.className = "preview";
    if (ticket.replied) {
      td.appendChild(el("span", "badge replied", "person replied"));
      td.appendChild(document.createTextNode(" "));
    }
    if (ticket.preview_from) {
      td.appendChild(el("span", "from", ticket.preview_from + ":"));
      td.appendChild(document.createTextNode(" "));
      td.appendChild(window.DDA.written("span", null, ticket.preview));
    }
    return td;
  }

  function row(ticket) {
    var tr = el("tr", (ticket.urgent ? "urgent" : "") + (ticket.replied ? " replied" : ""));
    tr.dataset.ticket = ticket.id;
    var th = el("th");
    th.scope = "row";
    var link = el("a", null, "#" + ticket.id);
    link.href = ticket.url;
    th.appendChild(link);
    tr.appendChild(th);
    var closed = ticket.status === "closed";
    tr.appendChild(cell("Priority", ticket.priority_label));
    tr.appendChild(cell("Reason", ticket.reason));
    tr.appendChild(cell("Language", ticket.language));
    tr.appendChild(cell(closed ? "Outcome" : "Waiting", closed ? ticket.outcome : ticket.waiting));
    tr.appendChild(preview(ticket));
    tr.appendChild(cell("Who has it", ticket.mine ? "you" : (ticket.assigned_to || "nobody yet")));
    return tr;
  }

  function announce() {
    document.title = fresh ? "(" + fresh + " new) " + title : title;
  }

  function draw(data) {
    var rows = document.createDocumentFragment();
    if (!data.tickets.length) {
      var empty = el("tr", "empty");
      var message = el("td", null, table.dataset.empty);
      message.colSpan = 7;
      empty.appendChild(message);
      rows.appendChild(empty);
    }
    data.tickets.forEach(function (ticket) {
      if (!seen[ticket.id]) { seen[ticket.id] = true; fresh += 1; }
      rows.appendChild(row(ticket));
    });
    body.replaceChildren(rows);
    count.textContent = data.count;
    problem.hidden = true;
    announce();
  }

  function failed(error) {
    problem.textContent = "Live updates paused: " + error.message;
    problem.hidden = false;
  }

  /* Looking at the tab again is reading the news: the count starts over. */
  window.addEventListener("focus", function () { fresh = 0; announce(); });
  window.DDA.poll(table.dataset.source, Number(table.dataset.refresh) || 3, draw, failed);
})();
