(function () {
  "use strict";
  var DATA = JSON.parse(document.getElementById("stitchbench-data").textContent);
  var COLUMNS = DATA.verdicts.columns;
  var VERDICTS = DATA.verdicts.rows.map(function (row) {
    var record = {};
    COLUMNS.forEach(function (name, i) { record[name] = row[i]; });
    return record;
  });
  var ORDER = ["fail", "error", "undecided", "premise failed", "pass"];  // how a verdict column sorts

  function el(tag, attrs) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      if (key === "text") node.textContent = attrs[key];
      else if (key === "className") node.className = attrs[key];
      else node.setAttribute(key, attrs[key]);
    });
    for (var i = 2; i < arguments.length; i++) {
      var child = arguments[i];
      if (child === null || child === undefined) continue;
      node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    }
    return node;
  }
  function fmt(x, digits) {
    if (x === null || x === undefined || x === "") return "";
    if (typeof x !== "number") return String(x);
    if (x === 0) return "0";
    var a = Math.abs(x);
    return (a >= 1e-3 && a < 1e5) ? String(Number(x.toPrecision(digits || 4))) : x.toExponential((digits || 4) - 1);
  }

  // ---- sorting: any table.sortable, by the clicked column (data-sort, else the text) ----
  function sortTable(th) {
    var table = th.closest("table");
    var index = Array.prototype.indexOf.call(th.parentNode.children, th);
    var numeric = th.dataset.type === "number";
    var current = th.getAttribute("aria-sort");
    var direction = current ? (current === "ascending" ? "descending" : "ascending") : (numeric ? "descending" : "ascending");
    Array.prototype.forEach.call(th.parentNode.children, function (other) { other.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", direction);
    var sign = direction === "ascending" ? 1 : -1;
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    function key(row) {
      var cell = row.cells[index];
      var value = cell.dataset.sort !== undefined ? cell.dataset.sort : cell.textContent.trim();
      return numeric ? (value === "" ? NaN : parseFloat(value)) : value.toLowerCase();
    }
    var keyed = rows.map(function (row, i) { return [key(row), i, row]; });
    keyed.sort(function (a, b) {
      var x = a[0], y = b[0];
      if (numeric) {
        if (isNaN(x) || isNaN(y)) return isNaN(x) === isNaN(y) ? a[1] - b[1] : (isNaN(x) ? 1 : -1);
        return x === y ? a[1] - b[1] : sign * (x - y);
      }
      return x === y ? a[1] - b[1] : sign * (x < y ? -1 : 1);
    });
    keyed.forEach(function (item) { body.appendChild(item[2]); });
  }
  function makeSortable(table) {
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th) {
      th.addEventListener("click", function () { sortTable(th); });
    });
  }

  // ---- filters: family (columns of the overview, grids) and measure (rows everywhere) ----
  var familyFilter = document.getElementById("family-filter");
  var measureFilter = document.getElementById("measure-filter");
  function measureMatches(metric) {
    var terms = measureFilter.value.toLowerCase().split(/[\s,]+/).filter(Boolean);
    return !terms.length || terms.some(function (t) { return metric.toLowerCase().indexOf(t) >= 0; });
  }
  function applyFilters() {
    var family = familyFilter.value;
    document.querySelectorAll("#overview-table [data-family]").forEach(function (cell) {
      cell.classList.toggle("hidden", family !== "" && cell.dataset.family !== family);
    });
    document.querySelectorAll(".grid-block").forEach(function (block) {
      block.classList.toggle("hidden", family !== "" && block.dataset.family !== family);
    });
    document.querySelectorAll("tr[data-metric]").forEach(function (row) {
      row.classList.toggle("hidden", !measureMatches(row.dataset.metric));
    });
    document.querySelectorAll("#overview-table tr[data-counts]").forEach(function (row) {
      var counts = JSON.parse(row.dataset.counts)[family] || [];
      row.querySelectorAll("td.count").forEach(function (cell, i) { cell.textContent = counts[i] === undefined ? "" : counts[i]; });
    });
  }
  familyFilter.addEventListener("change", applyFilters);
  measureFilter.addEventListener("input", applyFilters);

  // ---- verdict grids, one per family, built from the JSON ----
  var byKey = {};
  VERDICTS.forEach(function (v) { byKey[[v.metric, v.scenario, v.expectation].join("\u0001")] = v; });
  var measuresInOrder = Array.prototype.map.call(
    document.querySelectorAll("#overview-table tbody tr"), function (row) { return row.dataset.metric; });

  // a failure the measure has by its declared design shows apart from an empirical one
  function verdictKind(v) { return v.verdict === "fail" && v.design ? "design" : v.verdict; }

  function buildGrids() {
    var container = document.getElementById("grids");
    var families = [];
    VERDICTS.forEach(function (v) { if (families.indexOf(v.family) < 0) families.push(v.family); });
    families.forEach(function (family) {
      var columns = [];
      VERDICTS.forEach(function (v) {
        if (v.family !== family) return;
        var id = v.scenario + "\u0001" + v.expectation;
        if (columns.indexOf(id) < 0) columns.push(id);
      });
      var head = el("tr", {}, el("th", { "data-type": "text", text: "measure" }));
      columns.forEach(function (id) {
        var parts = id.split("\u0001");
        head.appendChild(el("th", { className: "expectation", "data-type": "number", title: parts[0] + ": " + parts[1],
          text: parts[0] + ": " + parts[1] }));
      });
      var body = el("tbody");
      measuresInOrder.forEach(function (metric) {
        var row = el("tr", { "data-metric": metric }, el("td", { className: "name", text: metric }));
        columns.forEach(function (id) {
          var parts = id.split("\u0001");
          var v = byKey[[metric, parts[0], parts[1]].join("\u0001")];
          if (!v) { row.appendChild(el("td", { "data-sort": "" })); return; }
          var estimate = typeof v.estimate === "number" ? " " + fmt(v.estimate, 3) : "";
          var kind = verdictKind(v);
          var button = el("button", { type: "button", className: "cell " + (DATA.classes[kind] || ""),
            "data-metric": metric, "data-scenario": parts[0], "data-expectation": parts[1],
            title: (kind === "design" ? "fails by design: " + v.design : v.verdict) + estimate, text: DATA.marks[kind] || "?" });
          button.addEventListener("click", function () { openEvidence(v, button); });
          row.appendChild(el("td", { "data-sort": String(ORDER.indexOf(v.verdict)) }, button));
        });
        body.appendChild(row);
      });
      var table = el("table", { className: "grid sortable", "data-family": family }, el("thead", {}, head), body);
      makeSortable(table);
      container.appendChild(el("div", { className: "grid-block", "data-family": family, id: "grid-" + family },
        el("h3", { text: family + " (" + columns.length + " expectations)" }), table));
    });
  }

  // ---- the evidence of one verdict ----
  var panel = document.getElementById("evidence");
  var panelBody = document.getElementById("evidence-body");
  function closeEvidence() {
    panel.hidden = true;
    document.body.classList.remove("panel-open");
    document.querySelectorAll("button.cell.open").forEach(function (b) { b.classList.remove("open"); });
  }
  document.getElementById("evidence-close").addEventListener("click", closeEvidence);
  document.addEventListener("keydown", function (event) { if (event.key === "Escape") closeEvidence(); });

  function interval(low, high) {
    return (typeof low === "number" && typeof high === "number") ? "[" + fmt(low) + ", " + fmt(high) + "]" : "";
  }

  function openEvidence(v, button) {
    closeEvidence();
    if (button) button.classList.add("open");
    var scenario = DATA.scenarios[v.scenario] || { cases: [], params: [], references: {}, sweep: "" };
    var values = (DATA.values[v.scenario] || {})[v.metric] || [];
    var failures = (DATA.failures[v.scenario] || {})[v.metric] || {};
    var judged = v.reference || "stitch";
    panelBody.textContent = "";
    panelBody.appendChild(el("h3", {}, v.metric + " on " + v.scenario + ": " + v.expectation + " ",
      el("span", { className: "badge " + (DATA.classes[verdictKind(v)] || ""),
        text: (DATA.marks[verdictKind(v)] || "") + " " + (verdictKind(v) === "design" ? "fails by design" : v.verdict) })));
    if (v.design) panelBody.appendChild(el("p", { className: "hint", text: "By design: " + v.design }));
    if (v.reason) panelBody.appendChild(el("p", { className: "hint", text: v.reason }));
    var facts = [
      ["family", v.family],
      ["kind", v.kind + (v.became ? " (became " + v.became + ")" : "")],
      ["judged against", v.reference],
      ["statistic", v.statistic],
      ["estimate", fmt(v.estimate)],
      ["interval", interval(v.ci_low, v.ci_high)],
      ["p-value", fmt(v.p_value)],
      ["threshold", fmt(v.threshold)],
      ["premise", v.premise ? v.premise + (typeof v.premise_estimate === "number" ? " (" + fmt(v.premise_estimate) + " " +
        interval(v.premise_ci_low, v.premise_ci_high) + ")" : "") : ""],
      ["seeds", v.n_seeds],
      ["cases", v.n_cases === undefined ? "" : v.n_cases + (v.n_failed_cases ? " (" + v.n_failed_cases + " left out)" : "")],
      ["detail", v.detail],
      ["measure's reference", DATA.references[v.metric]]
    ];
    var list = el("dl");
    facts.forEach(function (fact) {
      if (fact[1] === null || fact[1] === undefined || fact[1] === "") return;
      list.appendChild(el("dt", { text: fact[0] }));
      list.appendChild(el("dd", { text: String(fact[1]) }));
    });
    panelBody.appendChild(list);
    var references = Object.keys(scenario.references);
    panelBody.appendChild(figure(v, scenario, values, references, judged));
    function breakable(name) { return name.replace(/_/g, "_\u200b"); }  // long names wrap at underscores
    var head = el("tr", {}, el("th", { text: "case" }), el("th", { text: breakable(scenario.sweep || "param") }),
      el("th", { text: breakable(v.metric) + " (mean)" }), el("th", { text: "min..max" }));
    references.forEach(function (name) {
      head.appendChild(el("th", { className: name === judged ? "judged" : "", text: breakable(name) }));
    });
    head.appendChild(el("th", { text: "error" }));
    var body = el("tbody");
    scenario.cases.forEach(function (name, i) {
      var value = values[i];
      var row = el("tr", {}, el("td", { text: name }), el("td", { text: fmt(scenario.params[i]) }),
        el("td", { text: value ? fmt(value[0]) : "" }),
        el("td", { text: value ? fmt(value[1]) + ".." + fmt(value[2]) : "" }));
      references.forEach(function (ref) {
        row.appendChild(el("td", { className: ref === judged ? "judged" : "", text: fmt(scenario.references[ref][i]) }));
      });
      row.appendChild(el("td", { className: "message", text: failures[name] || "" }));
      body.appendChild(row);
    });
    panelBody.appendChild(el("h3", { text: "cases (mean over seeds)" }));
    panelBody.appendChild(el("div", { className: "wide" }, el("table", { id: "evidence-cases" }, el("thead", {}, head), body)));
    panel.hidden = false;
    panel.scrollTop = 0;
    document.body.classList.add("panel-open");
    if (button) keepVisible(button);
  }

  // The clicked cell stays in view beside (wide windows) or above (narrow: the panel is a bottom sheet) the
  // panel, below the sticky header.
  function keepVisible(node) {
    var box = node.getBoundingClientRect();
    var sheet = panel.hidden ? { left: window.innerWidth, top: window.innerHeight } : panel.getBoundingClientRect();
    var top = Math.max(0, document.querySelector("header.top").getBoundingClientRect().bottom) + 8;
    var bottom = sheet.left <= 1 ? sheet.top - 8 : window.innerHeight - 8;
    if (box.top < top || box.bottom > bottom) window.scrollBy(0, box.top - top - Math.max(0, (bottom - top - box.height) / 3));
    var grid = node.tagName === "BUTTON" ? node.closest(".grid-block") : null;  // a row only scrolls vertically
    if (grid) {
      var right = sheet.left <= 1 ? window.innerWidth : sheet.left;
      if (box.right > right - 8) grid.scrollLeft += box.right - right + 40;
      else if (box.left < grid.getBoundingClientRect().left + 8) grid.scrollLeft -= grid.getBoundingClientRect().left - box.left + 40;
    }
  }

  // The scenario's figure for this measure: two panels on one x axis, each with its own labelled y axis
  // (never two scales on one panel): the measure (mean, bars min..max over seeds) above, the functional
  // references below (0..1 at least; the judged one in black). Title and legend are HTML, outside the chart.
  function figure(v, scenario, values, references, judged) {
    var NS = "http://www.w3.org/2000/svg";
    var W = 560, P = 120, L = 56, R = 12, T = 8, GAP = 14, B = 44, H = T + 2 * P + GAP + B;
    function svg(tag, attrs, text) {
      var node = document.createElementNS(NS, tag);
      Object.keys(attrs).forEach(function (k) { node.setAttribute(k, attrs[k]); });
      if (text !== undefined) node.textContent = text;
      return node;
    }
    var root = svg("svg", { viewBox: "0 0 " + W + " " + H, role: "img", width: "100%", "aria-label": v.metric + " and references" });
    var n = scenario.cases.length;
    var params = scenario.params;
    var numeric = n > 1 && params.every(function (p) { return typeof p === "number"; }) &&
      new Set(params).size === n;
    var logScale = numeric && params.every(function (p) { return p > 0; }) &&
      Math.max.apply(null, params) / Math.min.apply(null, params) >= 10;
    function xValue(i) { return numeric ? (logScale ? Math.log10(params[i]) : params[i]) : i; }
    var xs = scenario.cases.map(function (_, i) { return xValue(i); });
    var xMin = Math.min.apply(null, xs), xMax = Math.max.apply(null, xs);
    if (xMin === xMax) { xMin -= 1; xMax += 1; }
    function X(i) { return L + 6 + (xValue(i) - xMin) / (xMax - xMin) * (W - L - R - 12); }
    function range(numbers) {
      var finite = numbers.filter(function (x) { return typeof x === "number"; });
      if (!finite.length) return [0, 1];
      var low = Math.min.apply(null, finite), high = Math.max.apply(null, finite);
      if (low === high) { low -= 0.5 * (Math.abs(low) || 1); high += 0.5 * (Math.abs(high) || 1); }
      var pad = 0.06 * (high - low);
      return [low - pad, high + pad];
    }
    function panelAxis(top, axis, label, colour) {
      root.appendChild(svg("rect", { x: L, y: top, width: W - L - R, height: P, fill: "none", stroke: "#d0d7de" }));
      [0, 0.5, 1].forEach(function (f) {
        var a = axis[0] + f * (axis[1] - axis[0]);
        root.appendChild(svg("text", { x: L - 4, y: top + (1 - f) * P + 4, "text-anchor": "end", "font-size": 10, fill: colour }, fmt(a, 3)));
      });
      root.appendChild(svg("text", { x: 10, y: top + P / 2, "font-size": 10, fill: colour, "text-anchor": "middle",
        transform: "rotate(-90 10 " + (top + P / 2) + ")" }, label));
      return function (value) { return top + (1 - (value - axis[0]) / (axis[1] - axis[0])) * P; };
    }
    var measured = [];
    values.forEach(function (value) { if (value) measured.push(value[1], value[2]); });
    var Ym = panelAxis(T, range(measured), "measure", "#0969da");
    var referenced = [];
    references.forEach(function (ref) { referenced = referenced.concat(scenario.references[ref]); });
    var Yr = panelAxis(T + P + GAP, range(referenced.concat([0, 1])), "references", "#1f2328");
    var bottom = T + 2 * P + GAP;
    scenario.cases.forEach(function (name, i) {
      var label = numeric ? fmt(params[i], 3) : name;
      root.appendChild(svg("text", { x: X(i), y: bottom + 12, "font-size": 9, "text-anchor": numeric ? "middle" : "end",
        transform: numeric ? "" : "rotate(-30 " + X(i) + " " + (bottom + 12) + ")" }, label.length > 18 ? label.slice(0, 17) + "…" : label));
    });
    references.forEach(function (ref) {
      var points = [];
      scenario.references[ref].forEach(function (value, i) { if (typeof value === "number") points.push(X(i) + "," + Yr(value)); });
      root.appendChild(svg("polyline", { points: points.join(" "), fill: "none", stroke: ref === judged ? "#000" : "#8c959f",
        "stroke-width": ref === judged ? 2 : 1.2, "stroke-dasharray": ref === judged ? "" : "5 3" }));
    });
    var line = [];
    values.forEach(function (value, i) {
      if (!value) return;
      root.appendChild(svg("line", { x1: X(i), x2: X(i), y1: Ym(value[1]), y2: Ym(value[2]), stroke: "#0969da" }));
      root.appendChild(svg("circle", { cx: X(i), cy: Ym(value[0]), r: 3, fill: "#0969da" }));
      line.push(X(i) + "," + Ym(value[0]));
    });
    root.appendChild(svg("polyline", { points: line.join(" "), fill: "none", stroke: "#0969da", "stroke-width": 1.5 }));
    if (numeric) root.appendChild(svg("text", { x: (L + W - R) / 2, y: H - 4, "font-size": 10, "text-anchor": "middle" },
      (scenario.sweep || "sweep parameter") + (logScale ? " (log scale)" : "")));
    var caption = el("p", { className: "chart-title", text: v.metric + " (top: mean, bar min..max over seeds) and the " +
      "functional references (bottom: " + (references.length ? judged + " judged, solid black; others dashed grey: " +
      references.filter(function (r) { return r !== judged; }).join(", ") : "none recorded") + ")" });
    return el("div", { className: "chart" }, caption, root);
  }

  // ---- baseline differences ----
  function buildDifferences() {
    var table = document.getElementById("differences");
    if (!table) return;
    var filter = document.getElementById("difference-filter");
    function render() {
      var body = table.tBodies[0];
      body.textContent = "";
      DATA.differences.forEach(function (d) {
        if (filter.value === "failing" ? !d.fails : (filter.value && d.kind !== filter.value)) return;
        body.appendChild(el("tr", { className: d.fails ? "fail" : "" }, el("td", { text: d.kind }), el("td", { text: d.key }),
          el("td", { text: fmt(d.baseline, 6) }), el("td", { text: fmt(d.current, 6) })));
      });
    }
    filter.addEventListener("change", render);
    var details = document.getElementById("difference-details");
    details.addEventListener("toggle", function () { if (details.open && !table.tBodies[0].rows.length) render(); });
  }

  // ---- overview family cells lead to the family's grid, the measure's row highlighted ----
  function linkOverview() {
    document.querySelectorAll("#overview-table td.link").forEach(function (cell) {
      cell.addEventListener("click", function () {
        var metric = cell.parentNode.dataset.metric;
        var block = document.getElementById("grid-" + cell.dataset.family);
        if (!block) return;
        document.querySelectorAll("tr.highlight").forEach(function (r) { r.classList.remove("highlight"); });
        var row = block.querySelector('tr[data-metric="' + metric + '"]');
        block.scrollIntoView({ block: "start" });
        if (row) { row.classList.add("highlight"); keepVisible(row); }
      });
    });
  }

  document.querySelectorAll("table.sortable").forEach(function (table) { if (!table.classList.contains("grid")) makeSortable(table); });
  buildGrids();
  buildDifferences();
  linkOverview();
  applyFilters();
  // anchors land below the sticky header, whatever its height at this width
  function headerHeight() {
    document.documentElement.style.setProperty("--header", document.querySelector("header.top").offsetHeight + "px");
  }
  window.addEventListener("resize", headerHeight);
  headerHeight();
  document.body.dataset.ready = "true";
})();
