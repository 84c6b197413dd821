/* report.html's sample table: filter by kind, template and variant, sort by reward, grade or pick probability,
   page through the rows. Vanilla JS, no library; data from the JSON element #data (bon/report/html.py). Text is set
   with textContent only, so a reply is never parsed as HTML. */
(function () {
  "use strict";
  var D = JSON.parse(document.getElementById("data").textContent);
  var C = {};
  D.columns.forEach(function (c, i) { C[c] = i; });
  var P = {};
  D.prompt_columns.forEach(function (c, i) { P[c] = i; });
  var S = { kind: "", template: "", variant: "", search: "", top: false, sort: null, dir: -1, page: 0, size: 50 };

  function pr(row, name) { return D.prompts[row[C.prompt]][P[name]]; }
  function uniq(list) { var o = []; list.forEach(function (x) { if (x !== null && o.indexOf(x) < 0) o.push(x); }); return o; }
  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function fmt(v, digits) {
    if (v === null || v === undefined) return "";
    if (typeof v !== "number") return String(v);
    return Number.isInteger(v) ? String(v) : v.toFixed(digits === undefined ? 3 : digits);
  }
  function select(id, label, options, value, onchange) {
    var lab = el("label", {}, label + " ");
    var s = el("select", { id: id });
    options.forEach(function (o) { var op = el("option", { value: o[0] }, o[1]); if (o[0] === value) op.selected = true; s.appendChild(op); });
    s.addEventListener("change", function () { onchange(s.value); S.page = 0; draw(); });
    lab.appendChild(s);
    return lab;
  }

  // The visible columns: [header, value(row), kind ("num" | "text"), sortable]
  function columns() {
    var cols = [
      ["prompt", function (r) { return pr(r, "kind") + " / " + pr(r, "template") + "\nitem " + pr(r, "item_id") + ", sample " + r[C.sample]; }, "text", false],
      ["question", function (r) { return pr(r, "question"); }, "long", false],
      ["reference", function (r) {
        var out = [];
        if (pr(r, "ref/correct") !== null) out.push("correct: " + pr(r, "ref/correct"));
        if (pr(r, "ref/incorrect") !== null) out.push("incorrect (user's): " + pr(r, "ref/incorrect"));
        var acc = pr(r, "ref/accepted");
        if (acc && acc.length) out.push("accepted: " + acc.join(" | "));
        return out.join("\n");
      }, "text", false],
      ["reply", function (r) { return r[C.reply]; }, "long", false],
      ["grade", function (r) { return r[C.grade]; }, "num", true],
      ["graded by", function (r) {
        var by = r[C.graded_by], of = r[C.grade_of];
        return of ? (String(by).indexOf(of) < 0 ? by + "\n(" + of + ")" : by) : "";
      }, "text", false],
      ["judge score", function (r) { return r[C.judge]; }, "num", true],
      ["tokens", function (r) { return r[C.n_tokens] + (r[C.finish_reason] === "length" ? " (cut)" : ""); }, "num", false]
    ];
    var vs = S.variant ? [S.variant] : D.variants;
    vs.forEach(function (v) {
      cols.push(["reward " + v, function (r) { return r[C["reward/" + v]]; }, "num", true]);
      cols.push(["rank " + v, function (r) { return r[C["rank/" + v]]; }, "num", true]);
    });
    if (S.variant) {
      D.ns.forEach(function (n) {
        cols.push(["P(pick) N=" + n, function (r) { return r[C["pick/" + S.variant + "/N=" + n]]; }, "num", true]);
      });
    }
    return cols;
  }

  function rows() {
    var q = S.search.toLowerCase();
    var out = D.rows.filter(function (r) {
      if (S.kind && pr(r, "kind") !== S.kind) return false;
      if (S.template && pr(r, "template") !== S.template) return false;
      if (S.top && S.variant && r[C["rank/" + S.variant]] !== 1) return false;
      if (q && (String(r[C.reply]) + " " + String(pr(r, "question"))).toLowerCase().indexOf(q) < 0) return false;
      return true;
    });
    if (S.sort) {
      var col = columns().filter(function (c) { return c[0] === S.sort; })[0];
      if (col) {
        out = out.map(function (r, i) { return [col[1](r), i, r]; });
        out.sort(function (a, b) {
          var x = a[0], y = b[0];
          if (x === null || x === undefined) return (y === null || y === undefined) ? a[1] - b[1] : 1;  // blanks last
          if (y === null || y === undefined) return -1;
          return x === y ? a[1] - b[1] : (x < y ? -S.dir : S.dir);
        });
        out = out.map(function (t) { return t[2]; });
      }
    }
    return out;
  }

  function controls() {
    var box = document.getElementById("controls");
    box.textContent = "";
    var kinds = uniq(D.prompts.map(function (p) { return p[P.kind]; }));
    var temps = uniq(D.prompts.filter(function (p) { return !S.kind || p[P.kind] === S.kind; }).map(function (p) { return p[P.template]; }));
    box.appendChild(select("f-kind", "kind", [["", "all"]].concat(kinds.map(function (k) { return [k, k]; })), S.kind,
      function (v) { S.kind = v; if (S.template) S.template = ""; controls(); }));
    box.appendChild(select("f-template", "template", [["", "all"]].concat(temps.map(function (k) { return [k, k]; })), S.template,
      function (v) { S.template = v; }));
    box.appendChild(select("f-variant", "variant", [["", "all (rewards, ranks)"]].concat(D.variants.map(function (k) { return [k, k + " (with P(pick) at each N)"]; })), S.variant,
      function (v) { S.variant = v; if (!v) S.top = false; if (S.sort && S.sort.indexOf(" ") > 0 && !columns().some(function (c) { return c[0] === S.sort; })) S.sort = null; controls(); }));
    var topLab = el("label", {}, " only its top-ranked samples (the pick at N = M)");
    var top = el("input", { type: "checkbox", id: "f-top" });
    top.checked = S.top; top.disabled = !S.variant;
    top.addEventListener("change", function () { S.top = top.checked; S.page = 0; draw(); });
    topLab.insertBefore(top, topLab.firstChild);
    box.appendChild(topLab);
    var sLab = el("label", {}, "search ");
    var search = el("input", { type: "search", id: "f-search", placeholder: "reply or question" });
    search.value = S.search;
    search.addEventListener("input", function () { S.search = search.value; S.page = 0; draw(); });
    sLab.appendChild(search);
    box.appendChild(sLab);
    box.appendChild(select("f-size", "rows per page", [["25", "25"], ["50", "50"], ["100", "100"], ["500", "500"]], String(S.size),
      function (v) { S.size = parseInt(v, 10); }));
  }

  function draw() {
    var cols = columns(), all = rows();
    var pages = Math.max(1, Math.ceil(all.length / S.size));
    if (S.page >= pages) S.page = pages - 1;
    var shown = all.slice(S.page * S.size, (S.page + 1) * S.size);
    var t = document.getElementById("table");
    t.textContent = "";
    var head = el("thead"), tr = el("tr");
    cols.forEach(function (c) {
      var th = el("th", c[3] ? { "class": "sortable", title: "sort" } : {}, c[0] + (S.sort === c[0] ? (S.dir < 0 ? " \u25bc" : " \u25b2") : ""));
      if (c[3]) th.addEventListener("click", function () {
        if (S.sort === c[0]) S.dir = -S.dir; else { S.sort = c[0]; S.dir = -1; }
        S.page = 0; draw();
      });
      tr.appendChild(th);
    });
    head.appendChild(tr); t.appendChild(head);
    var body = el("tbody");
    shown.forEach(function (r) {
      var row = el("tr", { "data-kind": pr(r, "kind"), "data-template": pr(r, "template") });
      if (S.variant && r[C["rank/" + S.variant]] === 1) row.className = "top";
      cols.forEach(function (c) {
        var v = c[1](r);
        if (c[2] === "long") {
          var td = el("td", { "class": "text" }), s = v === null || v === undefined ? "" : String(v);
          if (s.length > 160) {
            var d = el("details"), sum = el("summary", {}, s.slice(0, 160) + "\u2026");
            d.appendChild(sum); d.appendChild(el("div", {}, s)); td.appendChild(d);
          } else td.textContent = s;
          row.appendChild(td);
        } else row.appendChild(el("td", { "class": c[2] === "num" ? "num" : "text" }, c[2] === "num" ? fmt(v) : v));
      });
      body.appendChild(row);
    });
    t.appendChild(body);
    document.getElementById("status").textContent = all.length
      ? "showing " + (S.page * S.size + 1) + "\u2013" + (S.page * S.size + shown.length) + " of " + all.length +
        " samples (" + D.rows.length + " in the run)"
      : "no sample matches (" + D.rows.length + " in the run)";
    var pager = document.getElementById("pager");
    pager.textContent = "";
    var prev = el("button", { id: "prev" }, "previous"), next = el("button", { id: "next" }, "next");
    prev.disabled = S.page === 0; next.disabled = S.page >= pages - 1;
    prev.addEventListener("click", function () { S.page -= 1; draw(); });
    next.addEventListener("click", function () { S.page += 1; draw(); });
    pager.appendChild(prev); pager.appendChild(next);
    pager.appendChild(el("span", { "class": "muted" }, "page " + (S.page + 1) + " of " + pages));
  }

  controls();
  draw();
})();
