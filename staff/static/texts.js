// Bot texts: count characters against WhatsApp's limit, check placeholders and refresh the
// WhatsApp preview while an editor types. The server checks the same again on save.
(function () {
  "use strict";
  var csrf = document.querySelector("input[name=csrf_token]");
  var PLACEHOLDER = /\{(\w*)\}/g;

  function placeholders(text) {
    var found = [], match;
    PLACEHOLDER.lastIndex = 0;
    while ((match = PLACEHOLDER.exec(text)) !== null) { found.push(match[1]); }
    return found.sort();
  }

  function check(area) {
    var language = area.dataset.language;
    var limit = parseInt(area.dataset.limit, 10);
    var counter = document.getElementById("counter-" + language);
    var length = Array.from(area.value).length;
    counter.textContent = length + (limit ? " / " + limit : "") + " characters" +
      (limit && length > limit ? ": too long for WhatsApp" : "");
    counter.classList.toggle("over", Boolean(limit && length > limit));
    var problem = document.getElementById("placeholders-" + language);
    if (area.dataset.source) { return; }
    var expected = area.dataset.placeholders ? area.dataset.placeholders.split(",").sort() : [];
    var found = placeholders(area.value);
    var same = expected.length === found.length && expected.every(function (name, i) { return name === found[i]; });
    problem.hidden = same;
    problem.textContent = same ? "" : "Placeholders must be exactly: " +
      (expected.length ? expected.map(function (n) { return "{" + n + "}"; }).join(" ") : "none") +
      " (this text has " + (found.length ? found.map(function (n) { return "{" + n + "}"; }).join(" ") : "none") + ")";
  }

  var timers = {};
  function refresh(area) {
    var language = area.dataset.language;
    clearTimeout(timers[language]);
    timers[language] = setTimeout(function () {
      var body = new URLSearchParams({language: language, text: area.value});
      fetch(area.dataset.preview, {method: "POST", body: body, credentials: "same-origin",
        headers: {"X-CSRFToken": csrf ? csrf.value : ""}})
        .then(function (response) { return response.ok ? response.text() : null; })
        .then(function (html) {
          if (html !== null) { document.getElementById("preview-" + language).innerHTML = html; }
        });
    }, 250);
  }

  document.querySelectorAll("textarea[data-language]").forEach(function (area) {
    check(area);
    area.addEventListener("input", function () { check(area); refresh(area); });
  });
})();
