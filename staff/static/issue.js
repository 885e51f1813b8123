// The weekly issue's progress: poll the status the worker writes and show it, until it is done.
(function () {
  "use strict";
  var box = document.getElementById("issue-progress");
  if (!box) return;
  var bar = box.querySelector("progress");
  var text = document.getElementById("issue-state");
  var url = box.getAttribute("data-status-url");

  function show(job) {
    var total = job.total || 0, done = job.done || 0;
    bar.max = Math.max(total, 1);
    bar.value = job.state === "done" ? bar.max : done;
    box.setAttribute("data-state", job.state);
    if (job.state === "queued") text.textContent = "Waiting for a worker to start…";
    else if (job.state === "running") text.textContent = "Issuing: " + done + " of " + total + " people checked…";
    else if (job.state === "done") text.textContent = "Done: " + job.issued + " issued, " + job.already +
      " already had theirs, " + job.failed + " failed" + (job.failed ? " (start again to retry them)." : ".");
    else if (job.state === "failed") text.textContent = "Stopped: " + (job.error || "an error") +
      ". Nothing is issued twice: start it again.";
    return job.state === "queued" || job.state === "running";
  }

  function poll() {
    fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (response) { return response.json(); })
      .then(function (job) { if (show(job)) setTimeout(poll, 1000); else if (job.state === "done") box.classList.add("finished"); })
      .catch(function () { text.textContent = "Lost contact with the server; retrying…"; setTimeout(poll, 3000); });
  }
  poll();
})();
