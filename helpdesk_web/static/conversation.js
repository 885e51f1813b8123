/* Shared by the helpdesk pages and the simulator: fetch JSON on a timer and draw messages.
   Text is always set with textContent, never parsed as HTML: messages come from anyone. */
"use strict";
window.DDA = (function () {
  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  /* Text a person, the bot or a helper wrote: its own direction from its first strong letter
     (Arabic and Farsi read right to left), each code or number in a <bdi> so it keeps its order.
     The same pattern as helpdesk_web/bidi.py, which draws the first page. */
  var CODE = /[+#€$]?[A-Za-z0-9]+(?:[.\/:,\-][A-Za-z0-9]+)*/g;
  function written(tag, className, text) {
    var node = el(tag, className);
    node.dir = "auto";
    text = text || "";
    var last = 0;
    text.replace(CODE, function (code, at) {
      if (!/[0-9]/.test(code)) return code;
      if (at > last) node.appendChild(document.createTextNode(text.slice(last, at)));
      node.appendChild(el("bdi", null, code));
      last = at + code.length;
      return code;
    });
    if (last < text.length) node.appendChild(document.createTextNode(text.slice(last)));
    return node;
  }

  function getJSON(url) {
    return fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (response) {
        var type = response.headers.get("Content-Type") || "";
        if (response.redirected || type.indexOf("application/json") === -1) {
          throw new Error("You are signed out or no longer allowed here: reload the page.");
        }
        return response.json().then(function (data) {
          if (!response.ok) throw new Error(data.error || ("The server answered " + response.status + "."));
          return data;
        });
      });
  }

  /* Calls onData with fresh JSON every `seconds`, never two requests at once; returns a
     function that asks for the next refresh right away (after sending something). */
  function poll(url, seconds, onData, onError) {
    var timer = null, busy = false, again = false;
    function tick() {
      clearTimeout(timer);
      if (busy) { again = true; return; }
      busy = true;
      getJSON(typeof url === "function" ? url() : url).then(onData, onError).then(function () {
        busy = false;
        if (again) { again = false; tick(); } else { timer = setTimeout(tick, seconds * 1000); }
      });
    }
    tick();
    return tick;
  }

  function message(m, onOption) {
    var item = el("li", "message " + m.direction + " " + m.sender);
    item.dataset.id = m.id;
    var meta = el("p", "meta");
    meta.appendChild(el("span", "who", m.who));
    meta.appendChild(document.createTextNode(" "));
    var time = el("time", null, m.when);
    if (m.at) time.setAttribute("datetime", m.at);
    meta.appendChild(time);
    if (m.kind === "template") { meta.appendChild(document.createTextNode(" ")); meta.appendChild(el("span", "kind", "template")); }
    item.appendChild(meta);
    item.appendChild(written("p", "text", m.menu ? m.menu.text : m.text));
    if (m.map) {
      var pin = el("p", "map", "📍 ");
      var link = written("a", null, m.map.label);
      link.href = m.map.url; link.target = "_blank"; link.rel = "noopener";
      pin.appendChild(link);
      item.appendChild(pin);
    }
    if (m.menu) {
      item.appendChild(menu(m.menu, onOption));
    } else if (m.kind === "template" && m.options && m.options.length) {  /* an approved template's buttons */
      var list = el("ul", "options");
      list.setAttribute("aria-label", "Buttons shown with this message");
      m.options.forEach(function (option) {
        var entry = el("li");
        if (onOption) {
          var button = written("button", "option secondary", option.label);
          button.type = "button";
          button.dataset.payload = option.payload;
          button.addEventListener("click", function () { onOption(option); });
          entry.appendChild(button);
        } else {
          entry.dir = "auto";
          entry.appendChild(written("span", null, option.label));
        }
        list.appendChild(entry);
      });
      item.appendChild(list);
    }
    return item;
  }

  /* A menu as WhatsApp shows it: up to three reply buttons, or one button opening a list of
     rows (title and description). In the simulator a tap sends the row's payload, as WhatsApp
     sends ButtonPayload or ListId; elsewhere the choices are only shown. */
  function menu(view, onOption) {
    var rows = el("ul", view.kind === "buttons" ? "options" : "rows");
    rows.setAttribute("aria-label", view.kind === "buttons" ? "Reply buttons" : "List of choices");
    view.items.forEach(function (row) {
      var entry = el("li");
      if (onOption) {
        var button = written("button", "option secondary", row.title);
        button.type = "button";
        button.dataset.payload = row.payload;
        button.addEventListener("click", function () {
          onOption({payload: row.payload, label: row.title, kind: view.kind === "buttons" ? "button" : "list"});
        });
        entry.appendChild(button);
      } else {
        entry.appendChild(written("span", "title", row.title));
      }
      if (row.description) entry.appendChild(written("small", "description", row.description));
      rows.appendChild(entry);
    });
    if (view.kind === "buttons") return rows;
    var picker = el("details", "list-picker");
    var summary = el("summary", null, "☰ " + view.button);
    summary.dir = "auto";
    picker.appendChild(summary);
    picker.appendChild(rows);
    return picker;
  }

  /* Redraws the list only when something changed, and keeps it scrolled to the newest
     message if the reader was already there. */
  function renderConversation(list, messages, onOption) {
    var signature = messages.map(function (m) { return m.id + ":" + m.status; }).join(",");
    if (list.dataset.signature === signature) return false;
    var atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
    var fresh = document.createDocumentFragment();
    messages.forEach(function (m) { fresh.appendChild(message(m, onOption)); });
    list.replaceChildren(fresh);
    list.dataset.signature = signature;
    if (atBottom || !list.dataset.drawn) list.scrollTop = list.scrollHeight;
    list.dataset.drawn = "1";
    return true;
  }

  function csrfToken() {
    var field = document.querySelector("input[name=csrf_token]");
    return field ? field.value : "";
  }

  return {el: el, written: written, getJSON: getJSON, poll: poll, renderConversation: renderConversation, csrfToken: csrfToken};
})();
