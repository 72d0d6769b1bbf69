/* A campaign's cases on the map: the one map's points (see map.js), clustered, each
   linking to its case. */
(function () {
  "use strict";
  var el = document.getElementById("campaign-map");
  if (!el || !window.L) return;
  var crs = el.dataset.tileCrs || "wgs84";
  var map = Duban.map(el, { scrollWheelZoom: false });
  var c = el.dataset.centre.split(",").map(Number);
  map.setView(Duban.show(crs, c[0], c[1]), 13);
  var clusters = L.markerClusterGroup({ showCoverageOnHover: false, maxClusterRadius: 50 });
  map.addLayer(clusters);
  fetch(el.dataset.url, { credentials: "same-origin" })
    .then(function (r) { return r.ok ? r.json() : null; })
    .then(function (data) {
      if (!data) return;
      var markers = data.points.map(function (p) {
        var m = L.circleMarker(Duban.show(crs, p[1], p[2]), {
          radius: 7, weight: p[4] ? 3 : 1, color: p[4] ? "#c62828" : "#fff",
          fillColor: p[3] === "closed" ? "#43a047" : "#fb8c00", fillOpacity: .9
        });
        m.bindPopup('<a href="/cases/' + Number(p[0]) + '">' + el.dataset.openLabel.replace(/[&<>"']/g, "") + ' #' + Number(p[0]) + '</a>');
        return m;
      });
      clusters.addLayers(markers);
      if (markers.length) map.fitBounds(clusters.getBounds(), { padding: [20, 20], maxZoom: 16 });
      el.dataset.total = data.total;
      el.dataset.drawn = markers.length;
    });
})();
