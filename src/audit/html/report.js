(function () {
  'use strict';
  var data = JSON.parse(document.getElementById('matrix-data').textContent);
  var S = data.strings, styles = data.styles;
  var fp = document.getElementById('fp'), fr = document.getElementById('fr'), fa = document.getElementById('fa');
  var MAX_ROWS = 500;
  function has(text, part) { return text.toLowerCase().indexOf(part) >= 0; }
  function esc(t) {
    return String(t).replace(/[&<>"']/g, function (c) {
      return { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c];
    });
  }
  // A set's principals (numbers in the section), read from their deltas
  // once.
  function members(sec, k) {
    sec.read = sec.read || [];
    if (!sec.read[k]) {
      var out = [], p = 0;
      sec.sets[k].forEach(function (d) { p += d; out.push(p); });
      sec.read[k] = out;
    }
    return sec.read[k];
  }
  // What the filters leave of a section: the shown columns, each shown
  // principal's allowed cells, and their total.
  function view(sec) {
    var p = fp.value.toLowerCase(), r = fr.value.toLowerCase(), a = fa.value.toLowerCase();
    var cols = sec.columns.map(function (c) { return has(S[c[0]], r) && has(S[c[2]], a); });
    var keep = sec.principals.map(function (x) { return has(S[x], p); });
    var count = new Array(sec.principals.length).fill(0), cells = 0;
    sec.grants.forEach(function (g, col) {
      if (!cols[col]) { return; }
      for (var i = 0; i < g.length; i += 2) {
        if (styles[g[i]][0] === 2) { continue; }
        members(sec, g[i + 1]).forEach(function (m) {
          if (keep[m]) { count[m] += 1; cells += 1; }
        });
      }
    });
    var rows = [];
    count.forEach(function (n, m) { if (n > 0) { rows.push(m); } });
    return { cols: cols, rows: rows, cells: cells };
  }
  function grid(sec, v) {
    var shown = [];
    sec.columns.forEach(function (c, i) { if (v.cols[i]) { shown.push(i); } });
    var rows = v.rows.slice(0, MAX_ROWS), at = {};
    rows.forEach(function (m) { at[m] = {}; });
    // Each drawn principal's cells: the styles of the columns it holds.
    shown.forEach(function (col) {
      var g = sec.grants[col];
      for (var i = 0; i < g.length; i += 2) {
        members(sec, g[i + 1]).forEach(function (m) { if (at[m]) { at[m][col] = g[i]; } });
      }
    });
    var h = ['<div class="scroll"><table><thead><tr><th rowspan="3">principal</th>'];
    // Headings span their runs of shown columns: resources, then groups.
    function runs(key) {
      var out = [];
      shown.forEach(function (i) {
        var k = key(sec.columns[i]), last = out[out.length - 1];
        if (last && last.k === k) { last.n += 1; } else { out.push({ k: k, n: 1, c: sec.columns[i] }); }
      });
      return out;
    }
    runs(function (c) { return c[0]; }).forEach(function (x) {
      h.push('<th class="r" colspan="' + x.n + '">' + esc(S[x.c[0]]) + '</th>');
    });
    h.push('</tr><tr>');
    runs(function (c) { return c[0] + '/' + c[1]; }).forEach(function (x) {
      h.push('<th class="g" colspan="' + x.n + '">' + esc(S[x.c[1]]) + '</th>');
    });
    h.push('</tr><tr>');
    shown.forEach(function (i) {
      var name = S[sec.columns[i][2]], id = name.replace(/^.*::"(.*)"$/, '$1');
      h.push('<th class="a">' + esc(id) + '</th>');
    });
    h.push('</tr></thead><tbody>');
    rows.forEach(function (m) {
      var name = S[sec.principals[m]];
      h.push('<tr data-principal="' + esc(name) + '"><th class="p">' + esc(name) + '</th>');
      shown.forEach(function (col) {
        var st = at[m][col];
        if (st === undefined) { h.push('<td></td>'); return; }
        var s = styles[st], pol = s[1].map(function (x) { return S[x]; }), ctx = s[2].map(function (x) { return S[x]; });
        var title = pol.join(', ') + (ctx.length ? '\ncontexts: ' + ctx.join('; ') : '');
        var cls = ['allow', 'allow err', 'err'][s[0]], mark = ['✓', '✓!', '!'][s[0]];
        h.push('<td class="' + cls + '" title="' + esc(title) + '">' + mark + '<span>' + esc(pol.join(' ')) + '</span></td>');
      });
      h.push('</tr>');
    });
    h.push('</tbody></table></div>');
    if (v.rows.length > MAX_ROWS) {
      h.push('<p class="more">The first ' + MAX_ROWS + ' of ' + v.rows.length + ' principals: filter to see the others.</p>');
    }
    return h.join('');
  }
  function apply() {
    var filtering = fp.value || fr.value || fa.value;
    document.querySelectorAll('section[data-section]').forEach(function (el) {
      var sec = data.sections[+el.dataset.section], details = el.querySelector('details');
      var v = filtering || details.open ? view(sec) : { rows: { length: sec.holders }, cells: sec.cells };
      el.querySelector('.count').textContent = v.rows.length + ' principals, ' + v.cells + ' allowed cells' +
        (filtering ? ' (of ' + sec.holders + ' and ' + sec.cells + ')' : '');
      el.classList.toggle('hidden', v.rows.length === 0);
      // A narrow filter opens what it found.
      if (filtering && v.rows.length > 0 && v.rows.length <= 50) { details.open = true; }
      el.querySelector('.grid').innerHTML = details.open && v.rows.length ? grid(sec, v) : '';
    });
  }
  document.querySelectorAll('section[data-section] details').forEach(function (d) {
    d.addEventListener('toggle', apply);
  });
  [fp, fr, fa].forEach(function (i) { i.addEventListener('input', apply); });
  // `#p=…&r=…&a=…` sets the filters: a link can point at a view.
  location.hash.replace(/^#/, '').split('&').forEach(function (kv) {
    var parts = kv.split('='), box = { p: fp, r: fr, a: fa }[parts[0]];
    if (box && parts.length > 1) { box.value = decodeURIComponent(parts[1]); }
  });
  apply();
  document.getElementById('show').addEventListener('change', function (e) {
    document.body.classList.toggle('show', e.target.checked);
  });
  document.body.dataset.ready = 'yes';
})();
