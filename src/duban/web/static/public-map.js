/* The public map (/public): reports near a place, as points zoomed in (each links to its
   public page) or counts per cell zoomed out; "near me" asks the browser for the place. */
(function () {
  "use strict";
  var near = document.getElementById("near-me");
  if (near) near.addEventListener("click", function () {
    if (!navigator.geolocation) { alert(near.dataset.errorLabel); return; }
    navigator.geolocation.getCurrentPosition(function (p) {
      location.href = "/public?lat=" + p.coords.latitude.toFixed(6) + "&lon=" + p.coords.longitude.toFixed(6);
    }, function () { alert(near.dataset.errorLabel); });
  });
  var el = document.getElementById("public-map");
  if (!el || !window.L) return;
  var labels = JSON.parse(el.dataset.statusLabels || "{}");
  var map = Duban.map(el, { switcher: true });
  var crs = map.dubanCrs;
  el.dubanMap = map;  // for the browser tests' reach
  var box = el.dataset.box ? JSON.parse(el.dataset.box) : null;
  if (box) {
    map.fitBounds([Duban.show(crs, box[0], box[1]), Duban.show(crs, box[2], box[3])]);
  } else {
    var c = el.dataset.centre.split(",").map(Number);
    map.setView(Duban.show(crs, c[0], c[1]), 13);
  }
  var clusters = L.markerClusterGroup({ chunkedLoading: true, showCoverageOnHover: false, maxClusterRadius: 50 });
  var cells = L.layerGroup();
  map.addLayer(clusters);
  map.addLayer(cells);
  function esc(text) {
    return String(text).replace(/[&<>"']/g, function (ch) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[ch];
    });
  }
  var seq = 0;
  function load() {
    var b = map.getBounds();
    var sw = Duban.toWgs(map.dubanCrs, b.getSouth(), b.getWest());
    var ne = Duban.toWgs(map.dubanCrs, b.getNorth(), b.getEast());
    var bbox = [Math.max(-180, sw[1]), Math.max(-90, sw[0]), Math.min(180, ne[1]), Math.min(90, ne[0])]
      .map(function (v) { return v.toFixed(6); }).join(",");
    var params = new URLSearchParams(el.dataset.filter || "");
    ["region", "lat", "lon", "radius", "bbox"].forEach(function (k) { params.delete(k); });
    params.set("bbox", bbox);
    params.set("zoom", String(map.getZoom()));
    var mine = ++seq;
    el.setAttribute("aria-busy", "true");
    fetch(el.dataset.url + "?" + params.toString(), { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) { if (data && mine === seq) draw(data); })
      .finally(function () { if (mine === seq) el.removeAttribute("aria-busy"); });
  }
  function draw(data) {
    clusters.clearLayers();
    cells.clearLayers();
    el.dataset.mode = data.mode;
    el.dataset.total = data.total;
    if (data.mode === "points") {
      var markers = data.points.map(function (p) {
        var m = L.circleMarker(Duban.show(map.dubanCrs, p[1], p[2]), {
          radius: 7, weight: 1, color: "#fff",
          fillColor: p[3] === "closed" ? "#43a047" : "#fb8c00", fillOpacity: .9
        });
        m.dubanCase = p[0];
        m.bindPopup('<a href="/public/' + encodeURIComponent(p[0]) + '">' + esc(p[0]) + "</a> · " + esc(labels[p[3]] || ""));
        return m;
      });
      clusters.addLayers(markers);
      el.dataset.drawn = markers.length;
    } else {
      data.cells.forEach(function (c) {
        var at = Duban.show(map.dubanCrs, c[0], c[1]);
        var icon = L.divIcon({ className: "", iconSize: [36, 36],
          html: '<div class="cell-icon cell-green public-cell">' + Number(c[2]) + "</div>" });
        var mk = L.marker(at, { icon: icon });
        mk.bindTooltip(esc((el.dataset.countLabel || "{n}").replace("{n}", c[2])) + " · " + esc(el.dataset.openLabel) + " " + Number(c[3]));
        mk.on("click", function () { map.setView(at, Math.min(map.getZoom() + 2, 18)); });
        cells.addLayer(mk);
      });
      el.dataset.drawn = data.cells.length;
    }
  }
  map.on("crschange", load);
  map.on("moveend", load);
  load();
})();
