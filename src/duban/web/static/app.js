/* Duban — small progressive enhancements. Every page works without them. */
(function () {
  "use strict";

  // htmx requests carry this browser's CSRF token (forms carry it as a hidden field).
  var meta = document.querySelector('meta[name="csrf-token"]');
  document.body.addEventListener("htmx:configRequest", function (e) {
    if (meta) e.detail.headers["X-CSRF-Token"] = meta.content;
  });

  // ---- coordinates: WGS84 (stored, GPS) <-> GCJ-02 (only if the tiles are drawn in it) ----
  var A = 6378245.0, EE = 0.00669342162296594323;
  function outOfChina(lon, lat) { return lon < 72.004 || lon > 137.8347 || lat < 0.8293 || lat > 55.8271; }
  function tLat(x, y) {
    var r = -100 + 2 * x + 3 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * Math.sqrt(Math.abs(x));
    r += (20 * Math.sin(6 * x * Math.PI) + 20 * Math.sin(2 * x * Math.PI)) * 2 / 3;
    r += (20 * Math.sin(y * Math.PI) + 40 * Math.sin(y / 3 * Math.PI)) * 2 / 3;
    r += (160 * Math.sin(y / 12 * Math.PI) + 320 * Math.sin(y * Math.PI / 30)) * 2 / 3;
    return r;
  }
  function tLon(x, y) {
    var r = 300 + x + 2 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * Math.sqrt(Math.abs(x));
    r += (20 * Math.sin(6 * x * Math.PI) + 20 * Math.sin(2 * x * Math.PI)) * 2 / 3;
    r += (20 * Math.sin(x * Math.PI) + 40 * Math.sin(x / 3 * Math.PI)) * 2 / 3;
    r += (150 * Math.sin(x / 12 * Math.PI) + 300 * Math.sin(x / 30 * Math.PI)) * 2 / 3;
    return r;
  }
  function wgsToGcj(lat, lon) {
    if (outOfChina(lon, lat)) return [lat, lon];
    var dLat = tLat(lon - 105, lat - 35), dLon = tLon(lon - 105, lat - 35);
    var radLat = lat / 180 * Math.PI, magic = Math.sin(radLat);
    magic = 1 - EE * magic * magic;
    var sq = Math.sqrt(magic);
    dLat = (dLat * 180) / ((A * (1 - EE)) / (magic * sq) * Math.PI);
    dLon = (dLon * 180) / (A / sq * Math.cos(radLat) * Math.PI);
    return [lat + dLat, lon + dLon];
  }
  // GCJ-02 back to WGS84: the forward shift is smooth, so a few fixed-point steps give
  // the inverse to well under a centimetre.
  function gcjToWgs(lat, lon) {
    if (outOfChina(lon, lat)) return [lat, lon];
    var w = [lat, lon];
    for (var i = 0; i < 6; i++) {
      var g = wgsToGcj(w[0], w[1]);
      w = [w[0] - (g[0] - lat), w[1] - (g[1] - lon)];
    }
    return w;
  }
  function escName(text) {
    return String(text).replace(/[&<>"']/g, function (ch) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[ch];
    });
  }
  window.Duban = {
    // A point (stored in WGS84) as the map draws it, and a drawn point back in WGS84.
    show: function (crs, lat, lon) { return crs === "gcj02" ? wgsToGcj(lat, lon) : [lat, lon]; },
    toWgs: function (crs, lat, lon) { return crs === "gcj02" ? gcjToWgs(lat, lon) : [lat, lon]; },
    // A Leaflet map on a blank background, with the configured base layers (data-layers:
    // name, url, subdomains, attribution, crs, max_zoom, overlays) if any. The first layer
    // is shown; with opts.switcher and more than one, a layer switcher offers the others
    // and "grid only". map.dubanCrs is the active layer's system; switching to a layer
    // drawn in another one fires "crschange" on the map (and sets data-tile-crs).
    map: function (el, opts) {
      opts = opts || {};
      var specs = [];
      try { specs = JSON.parse(el.dataset.layers || "[]"); } catch (e) { specs = []; }
      var switcher = !!opts.switcher;
      var options = Object.assign({}, opts);
      delete options.switcher;
      var map = L.map(el, Object.assign({ preferCanvas: true, maxZoom: 19, attributionControl: specs.length > 0 }, options));
      map.dubanCrs = specs.length ? specs[0].crs : "wgs84";
      el.dataset.tileCrs = map.dubanCrs;
      if (specs.length) {
        var bases = {};
        var first = null;
        (switcher ? specs : specs.slice(0, 1)).forEach(function (spec) {
          var o = { maxZoom: 19, maxNativeZoom: spec.max_zoom || 18, subdomains: spec.subdomains || "abc" };
          var parts = [L.tileLayer(spec.url, Object.assign({ attribution: spec.attribution || "" }, o))];
          (spec.overlays || []).forEach(function (url) { parts.push(L.tileLayer(url, o)); });
          var group = L.layerGroup(parts);
          group.dubanCrs = spec.crs || "wgs84";
          group.dubanName = spec.name;
          bases[escName(spec.name)] = group;
          if (!first) first = group;
        });
        first.addTo(map);
        el.dataset.baseLayer = first.dubanName;
        if (switcher) {
          var none = L.layerGroup();
          none.dubanCrs = "wgs84";
          none.dubanName = "";
          bases[escName(el.dataset.gridOnlyLabel || "—")] = none;
          var control = L.control.layers(bases, null, { collapsed: true }).addTo(map);
          // A tap opens the switcher too (a phone has no hover, and not every one focuses
          // a tapped link); tapping the map closes it again.
          var toggle = control.getContainer().querySelector(".leaflet-control-layers-toggle");
          L.DomEvent.on(toggle, "click", function (e) { L.DomEvent.stop(e); control.expand(); });
        }
        map.on("baselayerchange", function (e) {
          el.dataset.baseLayer = e.layer.dubanName;
          var crs = e.layer.dubanCrs;
          if (crs === map.dubanCrs) return;
          var from = map.dubanCrs;
          map.dubanCrs = crs;
          el.dataset.tileCrs = crs;
          map.fire("crschange", { from: from, to: crs });
        });
      }
      L.control.scale({ imperial: false }).addTo(map);
      return map;
    }
  };

  // ---- a pin on the map, or the phone's GPS, fills lat/lon of the report form ----
  var pick = document.querySelector("[data-pick]");
  var form = document.getElementById("report-form");
  if (form && window.L && pick) {
    var crs = pick.dataset.tileCrs || "wgs84";
    var latIn = form.querySelector("[name=lat]"), lonIn = form.querySelector("[name=lon]");
    var crsIn = form.querySelector("[name=crs]");
    var centre = (pick.dataset.centre || "34.03,113.82").split(",").map(Number);
    var map = Duban.map(pick);
    var marker = null;
    function place(latlng, fromCrs) {
      if (marker) marker.setLatLng(latlng); else marker = L.marker(latlng).addTo(map);
      latIn.value = latlng[0].toFixed(6); lonIn.value = latlng[1].toFixed(6);
      if (crsIn) crsIn.value = fromCrs;
      document.body.dispatchEvent(new Event("location-set"));
    }
    if (latIn.value && lonIn.value) {
      var shown = crsIn && crsIn.value !== "wgs84" ? [+latIn.value, +lonIn.value] : Duban.show(crs, +latIn.value, +lonIn.value);
      marker = L.marker(shown).addTo(map);
      map.setView(shown, 16);
    } else {
      map.setView(Duban.show(crs, centre[0], centre[1]), 14);
    }
    map.on("click", function (e) { place([e.latlng.lat, e.latlng.lng], crs); });
    // Community outlines around the view: something to find one's way by on a blank map.
    var outlines = L.geoJSON(null, { interactive: false, style: { color: "#90a4ae", weight: 1, fill: false } }).addTo(map);
    function loadOutlines() {
      var b = map.getBounds();
      fetch("/report/regions.json?bbox=" + [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map(function (v) { return v.toFixed(5); }).join(","))
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (fc) { outlines.clearLayers(); if (fc) outlines.addData(fc); });
    }
    map.on("moveend", loadOutlines);
    loadOutlines();
    // A street or community found by name: the pin goes to its centre, to be refined.
    form.addEventListener("click", function (e) {
      var hit = e.target.closest ? e.target.closest("[data-goto]") : null;
      if (!hit) return;
      var at = hit.dataset.goto.split(",").map(Number);
      var shown = Duban.show(crs, at[0], at[1]);
      map.setView(shown, 17);
      if (marker) marker.setLatLng(shown); else marker = L.marker(shown).addTo(map);
      latIn.value = at[0].toFixed(6); lonIn.value = at[1].toFixed(6);
      if (crsIn) crsIn.value = "wgs84";
      document.body.dispatchEvent(new Event("location-set"));
    });
    var gps = form.querySelector("[data-gps]"), status = form.querySelector("[data-gps-status]");
    if (gps) gps.addEventListener("click", function () {
      if (!navigator.geolocation) { status.textContent = "GPS?"; return; }
      status.textContent = "…";
      navigator.geolocation.getCurrentPosition(function (pos) {
        var lat = pos.coords.latitude, lon = pos.coords.longitude;
        if (marker) marker.setLatLng(Duban.show(crs, lat, lon)); else marker = L.marker(Duban.show(crs, lat, lon)).addTo(map);
        map.setView(Duban.show(crs, lat, lon), 17);
        latIn.value = lat.toFixed(6); lonIn.value = lon.toFixed(6);
        if (crsIn) crsIn.value = "wgs84";
        status.textContent = "✓ ±" + Math.round(pos.coords.accuracy) + " m";
        document.body.dispatchEvent(new Event("location-set"));
      }, function (err) { status.textContent = err.message; }, { enableHighAccuracy: true, timeout: 15000 });
    });
  }

  // ---- the case page's small map ----
  var caseMap = document.getElementById("case-map");
  if (caseMap && window.L) {
    var p = caseMap.dataset.point.split(",").map(Number);
    var at = Duban.show(caseMap.dataset.tileCrs || "wgs84", p[0], p[1]);
    var m = Duban.map(caseMap, { scrollWheelZoom: false });
    m.setView(at, 16);
    L.circleMarker(at, { radius: 9, color: "#c62828", weight: 3, fillOpacity: .5 }).addTo(m);
    // The unit grid around the case, when the city has grids.
    var d = 0.002;
    fetch("/map/regions.json?level=grid&bbox=" + [p[1] - d, p[0] - d, p[1] + d, p[0] + d].join(","),
          { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (fc) {
        if (fc) L.geoJSON(fc, { interactive: false, style: { color: "#78909c", weight: 1, fillOpacity: 0 } }).addTo(m);
      });
  }

  // ---- one report form, one case: the form's token stays with its history entry, so
  // Back (which reloads the page) and a second submit send the first token again ----
  var tokenIn = document.querySelector("[data-form-token]");
  if (tokenIn && window.history && history.replaceState) {
    var kept = history.state && history.state.dubanFormToken;
    if (kept) tokenIn.value = kept;
    else history.replaceState(Object.assign({}, history.state || {}, { dubanFormToken: tokenIn.value }), "");
  }

  // ---- no category found: open the tree of all categories ----
  document.body.addEventListener("click", function (e) {
    var link = e.target.closest ? e.target.closest("[data-open-tree]") : null;
    if (!link) return;
    var tree = document.getElementById("category-tree");
    if (tree) { e.preventDefault(); tree.open = true; tree.scrollIntoView({ block: "start" }); }
  });

  // ---- dispatch: the reason field shows when the unit is not the suggested one ----
  document.querySelectorAll("select[data-suggested]").forEach(function (sel) {
    var owner = sel.getAttribute("form");
    var reason = owner ? document.querySelector('[data-override-reason][form="' + owner + '"]')
                       : (sel.form && sel.form.querySelector("[data-override-reason]"));
    if (!reason) return;
    var box = reason.closest("[data-override-field]") || reason;
    function toggle() {
      var differs = !!sel.dataset.suggested && !!sel.value && sel.value !== sel.dataset.suggested;
      box.hidden = !differs && !reason.value;
    }
    sel.addEventListener("change", toggle);
    toggle();
  });

  // ---- tick every case of a queue ----
  document.querySelectorAll("[data-check-all]").forEach(function (box) {
    box.addEventListener("change", function () {
      document.querySelectorAll('input[name="' + box.dataset.checkAll + '"]').forEach(function (c) { c.checked = box.checked; });
    });
  });

  // ---- the collector's tasks, nearest to the phone first ----
  var near = document.querySelector("[data-near-me]");
  if (near && navigator.geolocation) near.addEventListener("click", function (e) {
    e.preventDefault();
    navigator.geolocation.getCurrentPosition(function (pos) {
      location.href = "/tasks?lat=" + pos.coords.latitude.toFixed(6) + "&lon=" + pos.coords.longitude.toFixed(6);
    }, function () { location.href = "/tasks"; }, { timeout: 10000 });
  });
})();
