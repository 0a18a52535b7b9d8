// Filters the case table by verdict, protocol and group; the state lives in the URL fragment
// (#verdict=fail,error&protocol=mqtt&group=mqtt.v5), read on load and on every hash change.
(function () {
  'use strict';
  var form = document.getElementById('filters');
  if (!form) { return; }
  var rows = Array.prototype.slice.call(document.querySelectorAll('#cases tr.case-row'));
  var boxes = Array.prototype.slice.call(form.querySelectorAll('input[name="verdict"]'));
  var selects = { protocol: form.elements.protocol, group: form.elements.group };

  function state() {
    return {
      verdict: boxes.filter(function (b) { return b.checked; }).map(function (b) { return b.value; }),
      protocol: selects.protocol.value,
      group: selects.group.value
    };
  }

  function inGroup(group, wanted) {
    return wanted === '' || group === wanted || group.indexOf(wanted + '.') === 0;
  }

  function apply() {
    var s = state();
    var shown = 0;
    rows.forEach(function (row) {
      var d = row.dataset;
      var visible = s.verdict.indexOf(d.verdict) >= 0 &&
        (s.protocol === '' || d.protocol === s.protocol) && inGroup(d.group, s.group);
      row.hidden = !visible;
      row.classList.toggle('hidden', !visible);
      var detail = document.getElementById('case-' + d.case);
      if (detail) { detail.hidden = !visible; }
      if (visible) { shown += 1; }
    });
    document.getElementById('shown').textContent = shown + ' of ' + rows.length + ' cases shown';
  }

  function ensureOption(select, value) {
    var found = Array.prototype.some.call(select.options, function (o) { return o.value === value; });
    if (!found) {
      var o = document.createElement('option');
      o.value = value;
      o.textContent = value + ' (no case)';
      select.appendChild(o);
    }
    select.value = value;
  }

  // Reads a filter fragment; a plain anchor (#case-3) is not one and changes nothing.
  function fromHash() {
    var hash = decodeURIComponent(window.location.hash.replace(/^#/, ''));
    if (hash.indexOf('=') < 0) { return false; }
    var params = {};
    hash.split('&').forEach(function (part) {
      var i = part.indexOf('=');
      if (i > 0) { params[part.slice(0, i)] = part.slice(i + 1); }
    });
    if ('verdict' in params) {
      var wanted = params.verdict.split(',').filter(function (v) { return v !== ''; });
      boxes.forEach(function (b) { b.checked = wanted.length === 0 || wanted.indexOf(b.value) >= 0; });
    } else {
      boxes.forEach(function (b) { b.checked = true; });
    }
    Object.keys(selects).forEach(function (name) {
      ensureOption(selects[name], params[name] || '');
    });
    return true;
  }

  function toHash() {
    var s = state();
    var parts = [];
    if (s.verdict.length !== boxes.length) { parts.push('verdict=' + s.verdict.join(',')); }
    if (s.protocol !== '') { parts.push('protocol=' + encodeURIComponent(s.protocol)); }
    if (s.group !== '') { parts.push('group=' + encodeURIComponent(s.group)); }
    var url = window.location.pathname + window.location.search;
    window.history.replaceState(null, '', parts.length ? '#' + parts.join('&') : url);
  }

  // A link to a case or a transcript step opens the case's details.
  function openTarget() {
    var id = window.location.hash.replace(/^#/, '');
    if (id === '' || id.indexOf('=') >= 0) { return; }
    var el = document.getElementById(id);
    var details = el && el.closest('details');
    if (details) {
      details.open = true;
      details.hidden = false;
      el.scrollIntoView();
    }
  }

  form.addEventListener('change', function () { apply(); toHash(); });
  window.addEventListener('hashchange', function () {
    if (fromHash()) { apply(); } else { openTarget(); }
  });
  fromHash();
  apply();
  openTarget();
  document.body.setAttribute('data-filtered', 'yes');
})();
