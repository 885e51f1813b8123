/* The simulated phone: sends what is typed (or the button tapped) to /simulator/send and
   redraws the chat from /simulator/messages, which holds every message in and out. */
"use strict";
(function () {
  var phone = document.getElementById("simulator");
  if (!phone) return;
  var list = document.getElementById("conversation");
  var form = document.getElementById("compose");
  var input = document.getElementById("message");
  var problem = document.getElementById("phone-error");
  var language = document.getElementById("phone-language");
  var refresh = function () {};

  function send(fields) {
    return fetch(phone.dataset.send, {
      method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", "Accept": "application/json",
                "X-CSRFToken": window.DDA.csrfToken()},
      body: JSON.stringify(fields)
    }).then(function (response) {
      return response.json().catch(function () { return {error: "The message was not sent: reload the page."}; })
        .then(function (data) {
          if (!response.ok || data.error) throw new Error(data.error || "The message was not sent.");
          return data;
        });
    }).then(function () {
      if (problem.dataset.from === "send") problem.hidden = true;
      refresh();
    }, function (error) { failed(error, "send"); });
  }

  function tapped(option) {
    send({payload: option.payload, label: option.label, text: option.label, kind: option.kind || "button"});
  }

  function draw(data) {
    window.DDA.renderConversation(list, data.messages, tapped);
    language.textContent = data.language || "not chosen yet";
    if (problem.dataset.from === "poll") problem.hidden = true;
  }

  function failed(error, from) {
    problem.dataset.from = from || "poll";
    problem.textContent = error.message;
    problem.hidden = false;
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = input.value;
    if (!text.trim()) return;
    input.value = "";
    send({text: text});
    input.focus();
  });

  refresh = window.DDA.poll(phone.dataset.source, Number(phone.dataset.refresh) || 2, draw, failed);
})();
