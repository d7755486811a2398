/* Draws every chart of an analytics page from the JSON beside it (no inline scripts: the
   Content-Security-Policy forbids them). Colours come from CSS custom properties, read when
   drawing, so charts follow the light or dark scheme; they are drawn again when it changes. */
(function () {
  "use strict";

  var charts = [];

  function css(name, fallback) {
    var value = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
    return value || fallback;
  }

  function palette() {
    var colours = [];
    for (var n = 1; n <= 6; n++) colours.push(css("--chart-" + n, "#2855c5"));
    return colours;
  }

  function common(data) {
    var fg = css("--fg-2", "#3d4650");
    var grid = css("--line", "#e1e5ea");
    return {
      responsive: true,
      maintainAspectRatio: false,
      animation: false,
      color: fg,
      plugins: {
        legend: { display: data.series.length > 1, labels: { color: fg } },
        tooltip: { mode: "index", intersect: false }
      },
      scales: {
        x: { ticks: { color: fg, autoSkip: true, maxRotation: 0 }, grid: { color: grid } },
        y: { ticks: { color: fg }, grid: { color: grid }, beginAtZero: true }
      }
    };
  }

  function lineChart(data) {
    var colours = palette();
    var options = common(data);
    return {
      type: "line",
      data: {
        labels: data.labels,
        datasets: data.series.map(function (s, n) {
          var colour = colours[n % colours.length];
          return {
            label: s.name, data: s.data, borderColor: colour, backgroundColor: colour,
            borderWidth: 2, pointRadius: data.labels.length > 60 ? 0 : 2, tension: 0.2,
            spanGaps: false
          };
        })
      },
      options: options
    };
  }

  function barChart(data) {
    var colours = palette();
    var options = common(data);
    // Labels are things (threads, members, categories): names read best down the side.
    options.indexAxis = "y";
    options.scales.x.beginAtZero = true;
    options.scales.y.ticks.autoSkip = false;
    return {
      type: "bar",
      data: {
        labels: data.labels,
        datasets: data.series.map(function (s, n) {
          return { label: s.name, data: s.data, backgroundColor: colours[n % colours.length] };
        })
      },
      options: options
    };
  }

  function heatmapChart(data) {
    var fg = css("--fg-2", "#3d4650");
    var heat = css("--chart-heat", "40, 85, 197");
    var empty = css("--surface-2", "#f0f2f5");
    var points = [];
    var top = 0;
    data.series.forEach(function (s) {
      s.data.forEach(function (value, n) {
        if (value !== null && value > top) top = value;
        points.push({ x: data.labels[n], y: s.name, v: value });
      });
    });
    var columns = Math.max(data.labels.length, 1);
    var rows = Math.max(data.series.length, 1);
    return {
      type: "matrix",
      data: {
        datasets: [{
          label: data.title,
          data: points,
          backgroundColor: function (context) {
            var point = context.dataset.data[context.dataIndex];
            if (!point || !point.v || !top) return empty;
            return "rgba(" + heat + ", " + (0.15 + 0.85 * point.v / top).toFixed(3) + ")";
          },
          borderColor: empty,
          borderWidth: 1,
          width: function (context) {
            var area = context.chart.chartArea;
            return area ? area.width / columns - 2 : 10;
          },
          height: function (context) {
            var area = context.chart.chartArea;
            return area ? area.height / rows - 2 : 10;
          }
        }]
      },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        plugins: {
          legend: { display: false },
          tooltip: {
            callbacks: {
              title: function () { return ""; },
              label: function (context) {
                var point = context.dataset.data[context.dataIndex];
                return point.y + ", " + point.x + ": " + (point.v === null ? "–" : point.v);
              }
            }
          }
        },
        scales: {
          x: { type: "category", labels: data.labels, offset: true, grid: { display: false },
               ticks: { color: fg, maxRotation: 0 } },
          y: { type: "category", labels: data.series.map(function (s) { return s.name; }),
               offset: true, grid: { display: false }, ticks: { color: fg } }
        }
      }
    };
  }

  var KINDS = { line: lineChart, bar: barChart, heatmap: heatmapChart };

  function draw() {
    charts.forEach(function (chart) { chart.destroy(); });
    charts = [];
    if (typeof Chart === "undefined") return;
    document.querySelectorAll("script.analytics-chart-data").forEach(function (source) {
      var canvas = document.getElementById(source.dataset.canvas);
      var data = JSON.parse(source.textContent);
      var kind = KINDS[data.chart];
      if (!canvas || !kind || !data.labels.length || !data.series.length) return;
      Chart.defaults.font.family = css("--sans", Chart.defaults.font.family);
      charts.push(new Chart(canvas, kind(data)));
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw);
  else draw();
  var scheme = window.matchMedia("(prefers-color-scheme: dark)");
  if (scheme.addEventListener) scheme.addEventListener("change", draw);
})();
