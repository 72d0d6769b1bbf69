/* The one map (一张图): cases as clustered markers when zoomed in, counts per cell when
   zoomed out; filters in the side form; every marker links to its case. */
(function () {
  "use strict";
  var el = document.getElementById("one-map");
  if (!el || !window.L) return;
  var form = document.getElementById("map-filters");
  var countEl = document.getElementById("map-count");
  var labels = JSON.parse(el.dataset.statusLabels || "{}");
  var COLOURS = {
    gray: "#78909c", blue: "#1e88e5", indigo: "#3949ab", purple: "#8e24aa", orange: "#fb8c00",
    pink: "#d81b60", brown: "#6d4c41", teal: "#00897b", cyan: "#00acc1", green: "#43a047", black: "#424242"
  };
  var map = Duban.map(el, { switcher: true });
  var crs = map.dubanCrs;
  el.dubanMap = map;  // for the browser tests' reach (a property, not a global)
  var bounds = el.dataset.bounds ? JSON.parse(el.dataset.bounds) : null;
  if (bounds) {
    map.fitBounds([Duban.show(crs, bounds[0][0], bounds[0][1]), Duban.show(crs, bounds[1][0], bounds[1][1])], { padding: [20, 20] });
  } else {
    var c = el.dataset.centre.split(",").map(Number);
    map.setView(Duban.show(crs, c[0], c[1]), 13);
  }
  var clusters = L.markerClusterGroup({ chunkedLoading: true, showCoverageOnHover: false, maxClusterRadius: 50 });
  var cells = L.layerGroup();

  // Regions are the map when there are no tiles: districts and streets always, communities
  // and unit grids (coloured by open and overdue cases) when zoomed in.
  map.createPane("regions").style.zIndex = 350;
  var STYLES = {
    district: { color: "#22303f", weight: 2.5, fill: false },
    street: { color: "#546e7a", weight: 1.5, dashArray: "6 4", fill: false },
    community: { color: "#90a4ae", weight: 1, fill: false }
  };
  var outlines = {};
  var known = {};
  ["district", "street", "community"].forEach(function (level) {
    outlines[level] = L.geoJSON(null, {
      pane: "regions", interactive: false, style: function () { return STYLES[level]; },
      onEachFeature: function (f, layer) { known[f.properties.code] = layer; }
    }).addTo(map);
  });
  var grids = L.geoJSON(null, {
    pane: "regions",
    style: function (f) {
      var p = f.properties, tone = p.overdue ? "#c62828" : p.open ? "#f9a825" : "#2e7d32";
      return { color: "#b0bec5", weight: .5, fillColor: tone, fillOpacity: p.open ? Math.min(.6, .15 + p.open * .1) : 0.03 };
    },
    onEachFeature: function (f, layer) {
      var p = f.properties;
      // A grid with no matching case says so by its colour alone: no "0" counts.
      layer.bindTooltip(esc(el.dataset.gridLabel) + " " + esc(p.code) + "<br>" + esc(p.name || "") +
        (p.cases ? "<br>" + esc(el.dataset.countLabel.replace("{n}", Number(p.cases))) + " · " +
          esc(el.dataset.openCasesLabel) + " " + Number(p.open) + " · " + esc(el.dataset.overdueLabel) + " " + Number(p.overdue) : ""));
    }
  }).addTo(map);
  map.addLayer(clusters);
  map.addLayer(cells);
  function fetchJSON(url) { return fetch(url, { credentials: "same-origin" }).then(function (r) { return r.ok ? r.json() : null; }); }
  var outlineSeq = 0;
  function loadOutlines() {
    var mine = ++outlineSeq;
    ["district", "street"].forEach(function (level) {
      outlines[level].clearLayers();
      fetchJSON("/map/regions.json?level=" + level + "&crs=" + crs).then(function (fc) {
        if (!fc || mine !== outlineSeq) return;
        outlines[level].addData(fc);
      var chosen = form.querySelector("[data-region-select]");
      if (chosen && chosen.value && known[chosen.value] && !el.dataset.fitted) {
        el.dataset.fitted = "1";
          map.fitBounds(known[chosen.value].getBounds());
        }
      });
    });
  }
  loadOutlines();
  var regionSeq = 0;
  function loadRegions(params) {
    var z = map.getZoom(), mine = ++regionSeq;
    var box = params.get("bbox");
    outlines.community.clearLayers();
    grids.clearLayers();
    if (z >= 14) fetchJSON("/map/regions.json?level=community&crs=" + crs + "&bbox=" + box).then(function (fc) {
      if (fc && mine === regionSeq) outlines.community.addData(fc);
    });
    if (z >= 16) {
      var q = new URLSearchParams(params); q.set("level", "grid"); q.set("crs", crs);
      fetchJSON("/map/regions.json?" + q.toString()).then(function (fc) {
        if (fc && mine === regionSeq) grids.addData(fc);
      });
    }
  }

  function esc(text) {
    return String(text).replace(/[&<>"']/g, function (ch) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[ch];
    });
  }
  function filterQuery() {
    var params = new URLSearchParams(new FormData(form));
    Array.from(params.keys()).forEach(function (k) { if (!params.get(k)) params.delete(k); });
    return params;
  }
  var seq = 0;
  function load() {
    var params = filterQuery();
    history.replaceState(null, "", "/map?" + params.toString());
    // The data endpoint speaks WGS84: the view's corners are shifted back from the
    // active layer's system (GCJ-02 on 高德 tiles) before they are sent.
    var b = map.getBounds();
    var sw = Duban.toWgs(crs, b.getSouth(), b.getWest()), ne = Duban.toWgs(crs, b.getNorth(), b.getEast());
    params.set("bbox", [sw[1], Math.max(-90, sw[0]), ne[1], Math.min(90, ne[0])]
      .map(function (v) { return Math.max(-180, Math.min(180, v)).toFixed(6); }).join(","));
    params.set("zoom", map.getZoom());
    el.dataset.zoom = String(map.getZoom());
    loadRegions(params);
    var mine = ++seq;
    el.setAttribute("aria-busy", "true");
    fetch("/map/data.json?" + params.toString(), { credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (data) { if (mine === seq) draw(data); })
      .finally(function () { if (mine === seq) el.removeAttribute("aria-busy"); });
  }
  // The case whose popup is open: a redraw (after the popup panned the map into view,
  // as it does on a phone) opens it again instead of losing it.
  var openCase = null;
  function draw(data) {
    var keep = openCase;
    clusters.clearLayers();
    cells.clearLayers();
    countEl.textContent = data.total ? el.dataset.countLabel.replace("{n}", data.total) : el.dataset.emptyLabel;
    el.dataset.mode = data.mode;
    el.dataset.total = data.total;
    el.dataset.drawnCrs = crs;  // what the markers are drawn in (tests wait for it)
    if (data.mode === "points") {
      var markers = data.points.map(function (p) {
        var label = labels[p[3]] || [p[3], "gray"];
        var m = L.circleMarker(Duban.show(crs, p[1], p[2]), {
          radius: 7, weight: p[4] ? 3 : 1, color: p[4] ? "#c62828" : "#fff",
          fillColor: COLOURS[label[1]] || "#78909c", fillOpacity: .9
        });
        // The popup (案卷号, category, address, light and time left) comes from the
        // server when opened: a screenful of markers costs nothing until one is clicked.
        var id = Number(p[0]);
        m.dubanCase = id;
        m.bindPopup('<strong>' + esc(label[0]) + '</strong>' + (p[4] ? ' ⏰' : '') +
          '<br><a href="/cases/' + id + '">' + esc(el.dataset.openLabel) + '</a>', { minWidth: 200 });
        m.on("popupclose", function () { if (openCase === id) openCase = null; });
        m.on("popupopen", function () {
          openCase = id;
          fetch("/map/cases/" + id + "/popup", { credentials: "same-origin" })
            .then(function (r) { return r.ok ? r.text() : null; })
            .then(function (html) { if (html) m.setPopupContent(html); });
        });
        return m;
      });
      clusters.addLayers(markers);
      // markercluster adds them in chunks: look once it has.
      if (keep !== null) setTimeout(function () {
        markers.forEach(function (m) { if (m.dubanCase === keep && map.hasLayer(m)) m.openPopup(); });
      }, 0);
    } else {
      data.cells.forEach(function (c) {
        var n = c[2], open = c[3], late = c[4];
        var share = open ? late / open : 0;
        var tone = share > 0.2 ? "red" : share > 0.05 ? "yellow" : "green";
        var size = Math.round(24 + Math.min(28, Math.log10(n + 1) * 10));
        var icon = L.divIcon({ className: "", iconSize: [size, size],
          html: '<div class="cell-icon cell-' + tone + '" style="width:' + size + 'px;height:' + size + 'px">' + n + '</div>' });
        var at = Duban.show(crs, c[0], c[1]);
        var mk = L.marker(at, { icon: icon, title: n + " / " + open + " / " + late });
        mk.on("click", function () { map.setView(at, Math.min(map.getZoom() + 2, 18)); });
        cells.addLayer(mk);
      });
    }
  }
  // The hotspot layer (回潮): place × category that keeps coming back after closing, over
  // the filters' dates and major class; drawn above the cases while its box is ticked.
  var hotToggle = document.getElementById("hotspot-toggle");
  var hot = L.layerGroup();
  var hotSeq = 0;
  function loadHotspots() {
    if (!hotToggle || !hotToggle.checked) { hot.clearLayers(); map.removeLayer(hot); el.dataset.hotspots = ""; return; }
    var params = new URLSearchParams();
    ["from", "to", "category"].forEach(function (k) {
      var input = form.elements[k];
      if (input && input.value) params.set(k, input.value);
    });
    var mine = ++hotSeq;
    fetchJSON("/map/hotspots.geojson?" + params.toString()).then(function (fc) {
      if (mine !== hotSeq || !fc) return;
      hot.clearLayers();
      fc.features.forEach(function (f) {
        var p = f.properties, c = f.geometry.coordinates;
        var m = L.circleMarker(Duban.show(crs, c[1], c[0]), {
          radius: 8 + Math.min(14, p.recurrences * 2), weight: 2, color: "#b71c1c",
          fillColor: "#e53935", fillOpacity: .35
        });
        m.bindPopup('<strong>' + esc(p.place_name) + '</strong> · ' + esc(p.category_name) +
          '<br>' + esc(el.dataset.hotspotLabel.replace("{n}", p.recurrences).replace("{m}", p.cases)) +
          (p.last_closed_at ? '<br>' + esc(el.dataset.lastClosedLabel) + ' ' + esc(p.last_closed_at.slice(0, 10)) : ''));
        hot.addLayer(m);
      });
      hot.addTo(map);
      el.dataset.hotspots = String(fc.features.length);
    });
  }
  // Another base layer drawn in another system: everything is redrawn in it, and the
  // view stays on the same place on the ground.
  map.on("crschange", function (e) {
    var c = map.getCenter();
    var w = Duban.toWgs(e.from, c.lat, c.lng);
    crs = e.to;
    el.dataset.crsSwitches = String(Number(el.dataset.crsSwitches || 0) + 1);
    loadOutlines();
    loadHotspots();
    map.setView(Duban.show(crs, w[0], w[1]), map.getZoom(), { animate: false });
    // setView's moveend queued a load; one load in the new system is enough.
    clearTimeout(timer);
    load();
  });
  var timer = null;
  // A popup panning the map into view (on a phone, most do) moves it a little: no reload.
  var panned = false;
  map.on("autopanstart", function () { panned = true; });
  map.on("moveend", function () {
    if (panned) { panned = false; return; }
    clearTimeout(timer); timer = setTimeout(load, 150);
  });
  form.addEventListener("submit", function (e) { e.preventDefault(); load(); });
  form.addEventListener("change", function (e) {
    var t = e.target;
    if (t === hotToggle) { loadHotspots(); return; }
    if (hotToggle && hotToggle.checked && ["from", "to", "category"].indexOf(t.name) >= 0) loadHotspots();
    if (t.matches && t.matches("[data-region-select]") && known[t.value]) {
      map.fitBounds(known[t.value].getBounds());  // moveend loads
      return;
    }
    load();
  });
  load();
})();
