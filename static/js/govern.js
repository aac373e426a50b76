// Report the viewer's time zone so the server renders times in it (stored in UTC).
(function () {
  try {
    var tz = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (tz && document.cookie.indexOf("govern_tz=" + tz) === -1) {
      document.cookie = "govern_tz=" + tz + "; path=/; max-age=31536000; samesite=lax";
    }
  } catch (e) { /* very old browser: times stay in UTC, which the page says */ }
})();

// Render every chart: <div data-figure="ID"> reads its Plotly figure from the
// {{ figure|json_script:"ID" }} element (escaped safely by Django).
function governRenderCharts(root) {
  if (!window.Plotly) return;
  (root || document).querySelectorAll("[data-figure]").forEach(function (target) {
    var source = document.getElementById(target.dataset.figure);
    if (!source || target.dataset.rendered) return;
    var fig = JSON.parse(source.textContent);
    Plotly.newPlot(target, fig.data, fig.layout, { displaylogo: false, responsive: true });
    target.dataset.rendered = "1";
  });
}
document.addEventListener("DOMContentLoaded", function () { governRenderCharts(document); });
document.addEventListener("htmx:afterSettle", function (evt) { governRenderCharts(evt.target); });
