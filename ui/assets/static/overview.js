/* universe-operator UI: the overview of all releases (index.html). */
(function () {
  'use strict';
  const UO = window.UO;
  const h = UO.h;

  const els = {
    rows: document.getElementById('rows'),
    caption: document.getElementById('caption'),
    summary: document.getElementById('summary'),
    loadError: document.getElementById('load-error'),
    form: document.getElementById('filters'),
    sync: document.getElementById('f-sync'),
    health: document.getElementById('f-health'),
    q: document.getElementById('f-q'),
    facts: document.getElementById('controller-facts'),
    sources: document.getElementById('sources'),
    prune: document.getElementById('prune'),
    announce: document.getElementById('announce'),
  };
  const announce = UO.announcer(els.announce);

  const releases = new Map(); // name -> api.Release
  const rowCache = new Map(); // name -> {key, tr}
  let controller = null;
  let loaded = false; // initial state known: announce changes from now on
  let snapshot = null; // names seen since the stream (re)opened, until "ready"
  let renderTimer = null;

  // ---- Filters, kept in the query string so a view can be shared ----
  function readFilters() {
    const p = new URLSearchParams(location.search);
    els.sync.value = p.get('sync') || '';
    els.health.value = p.get('health') || '';
    els.q.value = p.get('q') || '';
  }
  function writeFilters() {
    const p = new URLSearchParams();
    if (els.sync.value) p.set('sync', els.sync.value);
    if (els.health.value) p.set('health', els.health.value);
    const q = els.q.value.trim();
    if (q) p.set('q', q);
    const qs = p.toString();
    const target = qs ? '?' + qs : location.pathname;
    if ((qs ? '?' + qs : '') !== location.search) history.replaceState(null, '', target);
  }
  function matches(r) {
    if (els.sync.value && (r.sync || 'Unknown') !== els.sync.value) return false;
    if (els.health.value && (r.health || 'NA') !== els.health.value) return false;
    const q = els.q.value.trim().toLowerCase();
    if (q) {
      const hay = [r.name, r.package, r.appId].filter(Boolean).join('\n').toLowerCase();
      if (!hay.includes(q)) return false;
    }
    return true;
  }
  function onFilter() {
    writeFilters();
    render();
  }
  els.sync.addEventListener('change', onFilter);
  els.health.addEventListener('change', onFilter);
  els.q.addEventListener('input', onFilter);
  els.form.addEventListener('submit', (e) => { e.preventDefault(); onFilter(); });
  els.form.addEventListener('reset', () => setTimeout(onFilter, 0));
  window.addEventListener('popstate', () => { readFilters(); render(); });

  // ---- Rows ----
  function versions(r) {
    const dl = h('dl', { class: 'versions' });
    // The version stays on one line; the release number may wrap after it.
    const add = (label, version, release) => dl.append(h('dt', { text: label }),
      h('dd', {}, h('span', { class: 'v', text: version || '—' }), version && release != null ? ' (r' + release + ')' : null));
    add('Desired', r.desiredVersion || 'latest');
    add('Resolved', r.resolvedVersion, r.resolvedRelease);
    add('Deployed', r.deployedVersion, r.deployedRelease);
    if (r.deployedVersion && r.resolvedVersion &&
        (r.deployedVersion !== r.resolvedVersion || (r.deployedRelease != null && r.resolvedRelease != null && r.deployedRelease !== r.resolvedRelease))) {
      dl.append(h('dt', { class: 'sr-only', text: 'Pending' }), h('dd', { class: 'pending', text: '→ update pending' }));
    }
    return dl;
  }
  function reasonOf(r) {
    if (r.lastError) {
      const msg = r.lastError.message || '';
      const short = msg.length > 160 ? msg.slice(0, 157) + '…' : msg;
      return h('span', { class: 'reason bad', title: msg || null },
        h('strong', { text: r.lastError.reason || 'Error' }), short ? ': ' + short : '');
    }
    if (r.syncReason) return h('span', { class: 'reason muted', text: r.syncReason });
    return null;
  }
  function countsLine(r) {
    const t = r.tasks || {};
    const bits = [];
    if (t.unhealthy) bits.push(t.unhealthy + ' unhealthy');
    if (t.staged) bits.push(t.staged + ' staged');
    if (r.deployments && r.deployments.length) bits.push(r.deployments.length === 1 ? '1 deployment' : r.deployments.length + ' deployments');
    return bits.length ? h('span', { class: 'counts', text: bits.join(' · ') }) : null;
  }
  // cell wraps its content in one element, so the card layout on phones
  // (label column + value column) keeps the value in one piece.
  function cell(label, cls, ...children) {
    return h('td', { 'data-label': label, role: 'cell', class: cls }, h('div', { class: 'cv' }, ...children));
  }
  function buildRow(r) {
    const href = UO.serviceHref(r.serviceLink);
    const service = href
      ? h('a', { href: href, 'data-key': 'svc:' + r.name, text: r.serviceLink, title: 'Open the service ' + r.serviceLink })
      : h('span', { class: 'muted', text: '—' });
    return h('tr', { role: 'row', 'data-release': r.name },
      h('th', { scope: 'row', role: 'rowheader' },
        h('div', { class: 'name-cell' },
          UO.iconFor(r, false),
          h('div', { class: 'names' },
            h('a', { href: UO.releasePage(r.name), 'data-key': 'rel:' + r.name, class: 'release-link', text: r.name }),
            r.appId ? h('span', { class: 'appid muted small mono', text: r.appId }) : null))),
      cell('Package', 'c-package', h('span', { text: r.package || '—' }),
        r.universe ? h('span', { class: 'counts', text: 'from ' + r.universe }) : null),
      cell('Versions', 'c-versions', versions(r)),
      cell('Sync', 'c-sync', UO.badge('sync', r.sync), r.suspended && r.sync !== 'Suspended' ? h('span', { class: 'counts', text: 'suspended' }) : null, reasonOf(r)),
      cell('Health', 'c-health', UO.healthBadge(r)),
      cell('Status', 'c-status', UO.statusBadge(r), countsLine(r)),
      cell('Service', 'c-service', service),
      cell('Last change', 'c-change', UO.timeEl(r.lastChange)));
  }
  function rowFor(r) {
    const key = JSON.stringify(r);
    const c = rowCache.get(r.name);
    if (c && c.key === key) return c.tr;
    const tr = buildRow(r);
    rowCache.set(r.name, { key: key, tr: tr });
    return tr;
  }
  function emptyRow(text) {
    return h('tr', { role: 'row', class: 'empty-row' },
      h('td', { colspan: 8, class: 'empty muted', role: 'cell', text: text }));
  }

  function scheduleRender() {
    if (renderTimer) return;
    renderTimer = setTimeout(() => { renderTimer = null; render(); }, 30);
  }
  function render() {
    if (renderTimer) { clearTimeout(renderTimer); renderTimer = null; }
    const all = Array.from(releases.values()).sort((a, b) => a.name.localeCompare(b.name));
    for (const name of Array.from(rowCache.keys())) if (!releases.has(name)) rowCache.delete(name);
    const shown = all.filter(matches);
    let want;
    if (shown.length) want = shown.map(rowFor);
    else if (!loaded && !all.length) want = [];
    else want = [emptyRow(all.length ? 'No release matches the filters.' : 'No releases yet: add a release manifest to the releases repository.')];
    UO.withFocus(() => {
      const tbody = els.rows;
      want.forEach((tr, i) => {
        if (tbody.children[i] !== tr) tbody.insertBefore(tr, tbody.children[i] || null);
      });
      while (tbody.children.length > want.length) tbody.lastElementChild.remove();
    });
    renderSummary(all, shown);
  }
  function renderSummary(all, shown) {
    const counts = {};
    for (const r of all) counts[r.sync || 'Unknown'] = (counts[r.sync || 'Unknown'] || 0) + 1;
    const hcounts = {};
    for (const r of all) hcounts[r.health || 'NA'] = (hcounts[r.health || 'NA'] || 0) + 1;
    for (const o of els.sync.options) if (o.value) o.textContent = o.value + ' (' + (counts[o.value] || 0) + ')';
    for (const o of els.health.options) if (o.value) o.textContent = o.value + ' (' + (hcounts[o.value] || 0) + ')';
    const parts = Object.keys(counts).sort().map((k) => counts[k] + ' ' + k);
    const filtered = shown.length !== all.length;
    const text = !loaded && !all.length ? 'Loading releases…'
      : (filtered ? 'Showing ' + shown.length + ' of ' + all.length + ' releases' : all.length + (all.length === 1 ? ' release' : ' releases')) +
        (parts.length ? ': ' + parts.join(', ') : '') + '.';
    if (els.summary.textContent !== text) els.summary.textContent = text;
    const cap = filtered ? 'Releases matching the filters (' + shown.length + ' of ' + all.length + ')' : 'Releases (' + all.length + ')';
    if (els.caption.textContent !== cap) els.caption.textContent = cap;
  }

  // ---- Controller strip ----
  function renderController() {
    const c = controller;
    if (!c) return;
    const facts = [
      h('li', {}, h('span', { class: 'label', text: 'Version ' }), h('span', { text: c.version || 'unknown' })),
      h('li', {}, h('span', { class: 'label', text: 'Role ' }),
        c.leader ? UO.pill('ok', '★', 'Leader', 'This replica writes to Marathon')
          : UO.pill('neutral', '☆', 'Standby' + (c.leaderId ? ' (leader: ' + c.leaderId + ')' : ''), 'Another replica writes to Marathon')),
    ];
    if (c.marathonEvents) {
      // The controller says "connected since <time>" or "disconnected since <time>: <reason>".
      const ok = /^connected(\s|$)/i.test(c.marathonEvents);
      facts.push(h('li', {}, h('span', { class: 'label', text: 'Marathon events ' }),
        UO.pill(ok ? 'ok' : 'warn', ok ? '✓' : '⚠', c.marathonEvents)));
    }
    if (UO.parseTime(c.lastPass)) facts.push(h('li', {}, h('span', { class: 'label', text: 'Last pass ' }), UO.timeEl(c.lastPass)));
    UO.replace(els.facts, facts);

    const srcs = (c.sources || []).map((s) => {
      const bad = !s.healthy;
      const state = bad ? ['bad', '✕', 'failing'] : s.stale ? ['warn', '⚠', 'stale'] : ['ok', '✓', 'ok'];
      const what = [s.kind, s.role === 'releases' ? 'releases' : s.role ? s.role + ' packages' : ''].filter(Boolean).join(' · ');
      return h('li', { 'data-source': s.name, title: s.uri || null },
        UO.pill(state[0], state[1], s.name + (state[2] === 'ok' ? '' : ': ' + state[2])),
        ' ', h('span', { class: 'label', text: what }),
        s.revision ? [' @ ', h('code', { text: s.revision.slice(0, 12), title: s.revision })] : null,
        s.stale && !bad ? h('span', { class: 'label', text: ' (last good copy in use)' }) : null,
        s.error ? [' — ', h('span', { class: 'reason bad', text: s.error })] : null,
        s.problems && s.problems.length ? [' — ', h('span', { class: 'reason', text: s.problems.length + (s.problems.length === 1 ? ' problem: ' : ' problems: ') + s.problems.slice(0, 3).join('; ') })] : null);
    });
    UO.replace(els.sources, srcs.length ? srcs : h('li', { class: 'muted', text: 'No sources reported' }));

    if (c.pruneRefused) {
      UO.replace(els.prune, h('span', { 'aria-hidden': 'true', text: '⚠ ' }), h('strong', { text: 'Prune refused: ' }), c.pruneRefused);
      els.prune.hidden = false;
    } else {
      els.prune.hidden = true;
    }
  }

  // ---- Data ----
  function setRelease(r) {
    const old = releases.get(r.name);
    releases.set(r.name, r);
    if (!loaded) return;
    if (!old) { announce(r.name + ' added'); return; }
    const changes = [];
    if (old.sync !== r.sync) changes.push('sync ' + (r.sync || 'Unknown'));
    if (old.health !== r.health) changes.push('health ' + (r.health || 'NA'));
    if (changes.length) announce(r.name + ': ' + changes.join(', '));
  }
  function showLoadError(msg) {
    if (msg) { els.loadError.textContent = msg; els.loadError.hidden = false; } else els.loadError.hidden = true;
  }

  async function load() {
    try {
      const res = await UO.request('api/v1/releases');
      if (!res.ok || !res.json) {
        showLoadError('Could not load the releases (HTTP ' + res.status + '): ' + UO.errorText(res));
        return;
      }
      for (const r of res.json.releases || []) if (r && r.name) setRelease(r);
      if (res.json.controller) { controller = res.json.controller; renderController(); }
      loaded = true;
      showLoadError(null);
      render();
    } catch (e) {
      showLoadError('Could not reach the controller: ' + e.message);
    }
  }

  let down = false;
  function onEvent(type, d) {
    switch (type) {
      case 'open':
        snapshot = new Set();
        if (down) { down = false; announce('Live updates reconnected'); }
        break;
      case 'down':
        if (!down && loaded) { down = true; announce('Live updates interrupted, reconnecting'); }
        break;
      case 'release':
        if (!d.name) return;
        if (snapshot) snapshot.add(d.name);
        setRelease(d);
        scheduleRender();
        break;
      case 'removed':
        if (releases.delete(d.name) && loaded) announce(d.name + ' removed');
        scheduleRender();
        break;
      case 'controller':
        controller = d;
        renderController();
        break;
      case 'ready':
        if (snapshot) {
          for (const name of Array.from(releases.keys())) if (!snapshot.has(name)) releases.delete(name);
          snapshot = null;
        }
        loaded = true;
        showLoadError(null);
        render();
        break;
    }
  }

  readFilters();
  render();
  load().finally(() => UO.live('api/v1/stream', onEvent));
})();
