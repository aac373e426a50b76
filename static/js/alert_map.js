// Point plotly.js at our vendored world map so geo charts work offline (no CDN).
// Runs (deferred) after plotly.min.js and before govern.js renders charts on DOMContentLoaded.
(function () {
  var config = document.getElementById("alert-map-config");
  if (window.Plotly && config && config.dataset.topojsonUrl) {
    window.Plotly.setPlotConfig({ topojsonURL: config.dataset.topojsonUrl });
  }
})();
