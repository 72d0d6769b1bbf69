/* The evaluation page's chart: scores as bars and their change on the period before as a
   line, drawn by the vendored ECharts (/static/vendor/echarts) from the numbers the page
   carries. The table below has every number; without scripts the page still works. */
(function () {
  "use strict";
  var box = document.getElementById("eval-chart");
  var source = document.getElementById("eval-chart-data");
  if (!box || !source || typeof echarts === "undefined") return;
  var data = JSON.parse(source.textContent);
  var narrow = box.clientWidth < 600;
  var chart = echarts.init(box, null, { renderer: "canvas" });
  chart.setOption({
    animation: false,
    tooltip: { trigger: "axis" },
    legend: { data: [data.score_label, data.change_label], top: 0 },
    grid: { left: 40, right: 40, top: 36, bottom: narrow ? 90 : 60 },
    xAxis: {
      type: "category",
      data: data.names,
      axisLabel: { interval: 0, rotate: narrow || data.names.length > 8 ? 45 : 0 }
    },
    yAxis: [
      { type: "value", name: data.score_label, min: 0 },
      { type: "value", name: data.change_label, splitLine: { show: false } }
    ],
    series: [
      {
        name: data.score_label, type: "bar", data: data.scores, itemStyle: { color: "#3a6ea5" },
        label: { show: !narrow, position: "top" }
      },
      {
        name: data.change_label, type: "line", yAxisIndex: 1, data: data.changes,
        itemStyle: { color: "#c0392b" }, connectNulls: false
      }
    ]
  });
  // A bar leads to its row of the table, where each number opens its cases.
  chart.on("click", function (params) {
    var rows = document.querySelectorAll("[data-ranking] tbody tr");
    var row = rows[params.dataIndex];
    if (row) { row.scrollIntoView({ behavior: "smooth", block: "center" }); row.classList.add("picked"); }
  });
  window.addEventListener("resize", function () { chart.resize(); });
  box.setAttribute("data-ready", "1");
})();
