/* A ticket's page: ready answers fill the reply box, and the conversation, the ticket's
   status and who has it refresh by themselves from the ticket's JSON. */
"use strict";
(function () {
  var ticket = document.getElementById("ticket");
  if (!ticket) return;
  var box = document.getElementById("reply-text");
  document.querySelectorAll("button.canned-reply").forEach(function (button) {
    button.addEventListener("click", function () {
      if (!box) return;
      box.value = button.dataset.text;
      box.focus();
    });
  });

  var list = document.getElementById("conversation");
  var left = document.getElementById("window-left");
  var status = document.getElementById("chat-status");
  var shownStatus = ticket.dataset.status;
  var shownWindow = ticket.dataset.window;

  function draw(data) {
    window.DDA.renderConversation(list, data.messages);
    var t = data.ticket;
    document.getElementById("ticket-status").textContent = t.status + (t.outcome ? " (" + t.outcome + ")" : "");
    document.getElementById("ticket-assigned").textContent = t.assigned_to || "nobody yet";
    document.getElementById("ticket-language").textContent = t.language || "not chosen yet";
    if (left && t.window_closes && t.window_closes !== left.dataset.closes) {  /* they wrote again: later */
      left.dataset.closes = t.window_closes;
      var closes = document.getElementById("window-closes");
      closes.setAttribute("datetime", t.window_closes);
      closes.textContent = t.window_closes_text;
      countdown();
    }
    var window_ = t.window_open ? "open" : "closed";
    var changes = [];
    if (t.status !== shownStatus) changes.push("this ticket is now " + t.status);
    if (window_ !== shownWindow) changes.push("the 24-hour window is now " + window_);
    status.textContent = changes.length ? "Changed since you opened the page: " + changes.join(" and ") +
      ". Reload to see the right buttons." : "Newest at the bottom; updates by itself.";
    status.classList.toggle("warning", changes.length > 0);
    status.classList.remove("error");
    var notes = document.getElementById("notes");
    if (notes && notes.children.length !== data.notes.length) {
      var fresh = document.createDocumentFragment();
      data.notes.forEach(function (n) {
        var item = window.DDA.el("li");
        item.appendChild(window.DDA.el("p", "meta", n.author + " " + n.when));
        item.appendChild(window.DDA.written("p", "text", n.text));
        fresh.appendChild(item);
      });
      notes.replaceChildren(fresh);
    }
  }

  function failed(error) {
    status.textContent = "Live updates paused: " + error.message;
    status.classList.add("error");
  }

  /* The 24-hour window: the server gives the close time, this counts down to it every few
     seconds ("5 h 02 min", then "closed"); the close time itself is written in the helper's locale. */
  function countdown() {
    if (!left) return;
    var minutes = Math.floor((Date.parse(left.dataset.closes) - Date.now()) / 60000);
    if (minutes < 0) {
      left.textContent = "none";
      left.classList.add("warning");
      status.textContent = "The 24-hour window has just closed: reload to send an approved template instead.";
      status.classList.add("warning");
      return;
    }
    var hours = Math.floor(minutes / 60), rest = minutes % 60;
    left.textContent = hours ? hours + " h " + (rest < 10 ? "0" : "") + rest + " min" : rest + " min";
    left.classList.toggle("warning", minutes < 60);
  }
  countdown();
  if (left) window.setInterval(countdown, 5000);

  window.DDA.poll(ticket.dataset.source, Number(ticket.dataset.refresh) || 3, draw, failed);
})();
