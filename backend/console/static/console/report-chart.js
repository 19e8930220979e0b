// The report page's chart: Chart.js (vendored) over the rows the page already shows in its
// table. The data comes as JSON (json_script), not inline script, for the CSP.
(function () {
  "use strict";
  function draw() {
    var canvas = document.getElementById("report-chart");
    var source = document.getElementById("report-chart-data");
    if (!canvas || !source || typeof window.Chart === "undefined") {
      return;
    }
    var data = JSON.parse(source.textContent);
    var previous = window.Chart.getChart(canvas);
    if (previous) {
      previous.destroy();
    }
    var chart = new window.Chart(canvas, {
      type: data.type,
      data: {
        labels: data.labels,
        datasets: [
          {
            label: data.seriesLabel,
            data: data.values,
            backgroundColor: "rgba(11, 92, 173, 0.75)",
            borderColor: "#0b5cad",
            borderWidth: 2,
            tension: 0,
            maxBarThickness: 36,
            fill: false,
          },
        ],
      },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        indexAxis: data.horizontal ? "y" : "x",
        plugins: { legend: { display: false } },
        // Write-offs are whole numbers: no 0.5 ticks.
        scales: {
          x: { beginAtZero: true, ticks: { precision: 0 } },
          y: { beginAtZero: true, ticks: { precision: 0 } },
        },
      },
    });
    canvas.setAttribute("data-rendered", String(chart.data.labels.length));
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
  document.addEventListener("htmx:afterSettle", draw);
})();
