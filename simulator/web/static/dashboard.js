// Optional: reload the dashboard every 5 seconds while the box is ticked (kept per browser).
// The page is complete without this script.
(function () {
  var box = document.getElementById("auto-refresh");
  var label = document.getElementById("auto-refresh-label");
  if (!box || !label) return;
  var KEY = "connect-sim-dashboard-refresh";
  box.hidden = false;
  label.hidden = false;
  box.checked = window.localStorage.getItem(KEY) === "1";
  var timer = null;
  function arm() {
    if (timer) window.clearTimeout(timer);
    timer = box.checked ? window.setTimeout(function () { window.location.reload(); }, 5000) : null;
  }
  box.addEventListener("change", function () {
    window.localStorage.setItem(KEY, box.checked ? "1" : "0");
    arm();
  });
  arm();
})();
