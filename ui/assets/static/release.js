/* universe-operator UI: one release (release.html?name=NAME). */
(function () {
  'use strict';
  const UO = window.UO;
  const h = UO.h;
  const $ = (id) => document.getElementById(id);

  const name = new URLSearchParams(location.search).get('name') || '';
  const baseTitle = document.body.getAttribute('data-title') || 'universe-operator';
  const els = {
    release: $('release'), loadError: $('load-error'), removed: $('removed'), crumb: $('crumb'),
    icon: $('r-icon'), name: $('r-name'), states: $('r-states'), facts: $('facts'),
    errorSec: $('error-sec'), error: $('error'), cleanupSec: $('cleanup-sec'), cleanup: $('cleanup'),
    drift: $('drift'), definition: $('definition'), compare: $('compare'), history: $('history'),
    notes: $('notes'), events: $('events'), syncBtn: $('sync-btn'), tokenForm: $('token-form'),
    token: $('token'), tokenForget: $('token-forget'), tokenState: $('token-state'),
    status: $('action-status'), actionError: $('action-error'),
  };

  let rel = null; // the api.Release shown
  let defKey = null; // what the loaded definition belongs to
  let defTimer = null;
  let pendingRollback = null; // revision id awaiting confirmation
  let busy = false;

  function showLoadError(msg) {
    if (msg) { els.loadError.textContent = msg; els.loadError.hidden = false; } else els.loadError.hidden = true;
  }

  // ---- Rendering ----
  function table(caption, headers, rows, cls) {
    return h('div', { class: 'table-wrap', role: 'region', 'aria-label': caption, tabindex: 0 },
      h('table', { class: cls || null },
        h('caption', { text: caption }),
        h('thead', {}, h('tr', {}, headers.map((t) => h('th', { scope: 'col', text: t })))),
        h('tbody', {}, rows)));
  }
  function fact(dl, label, ...value) {
    dl.append(h('dt', { text: label }), h('dd', {}, ...value));
  }
  function versionText(v, r) {
    if (!v) return '—';
    return r != null ? v + ' (release ' + r + ')' : v;
  }

  function render() {
    const r = rel;
    els.release.hidden = false;
    document.title = r.name + ' · ' + baseTitle;
    els.crumb.textContent = r.name;
    UO.replace(els.icon, UO.iconFor(r, true));
    els.name.textContent = r.name;
    UO.replace(els.states, UO.badge('sync', r.sync), UO.healthBadge(r), UO.statusBadge(r));

    UO.withFocus(() => {
      renderFacts(r);
      renderError(r);
      renderCleanup(r);
      renderDrift(r);
      renderHistory(r);
      renderNotes(r);
      renderEvents(r);
    });
  }

  function renderFacts(r) {
    const dl = h('dl', { class: 'facts' });
    fact(dl, 'Package', r.package || '—', r.universe ? h('span', { class: 'muted', text: ' from ' + r.universe }) : null);
    fact(dl, 'Desired version', r.desiredVersion || 'latest');
    fact(dl, 'Resolved version', versionText(r.resolvedVersion, r.resolvedRelease));
    fact(dl, 'Deployed version', versionText(r.deployedVersion, r.deployedRelease));
    fact(dl, 'Sync', UO.badge('sync', r.sync), r.syncReason ? h('span', { class: 'reason', text: r.syncReason }) : null,
      r.suspended ? h('span', { class: 'reason', text: 'Suspended in the manifest (spec.suspend): the controller leaves it alone.' }) : null);
    const t = r.tasks || {};
    fact(dl, 'Health', UO.healthBadge(r), h('span', { class: 'counts',
      text: (t.healthy || 0) + ' healthy, ' + (t.unhealthy || 0) + ' unhealthy, ' + (t.running || 0) + ' running, ' +
        (t.staged || 0) + ' staged of ' + (t.instances || 0) + ' instances' }));
    fact(dl, 'Marathon status', UO.statusBadge(r));
    fact(dl, 'App id', r.appId ? h('code', { text: r.appId }) : '—');
    const href = UO.serviceHref(r.serviceLink);
    fact(dl, 'Service', href ? h('a', { href: href, id: 'service-link', 'data-key': 'svc', text: r.serviceLink }) : '—');
    if (r.deployments && r.deployments.length) fact(dl, 'Deployments in flight', r.deployments.map((d, i) => [i ? ', ' : '', h('code', { text: d })]));
    if (r.dependsOn && r.dependsOn.length) {
      fact(dl, 'Depends on', r.dependsOn.map((d, i) => [i ? ', ' : '', h('a', { href: UO.releasePage(d), 'data-key': 'dep:' + d, text: d })]));
    }
    fact(dl, 'Manifest', r.manifestFile ? h('code', { text: r.manifestFile }) : '—',
      r.manifestRevision ? [' @ ', h('code', { text: r.manifestRevision.slice(0, 12), title: r.manifestRevision })] : null);
    fact(dl, 'Universe revision', r.universeRevision ? h('code', { text: r.universeRevision.slice(0, 12), title: r.universeRevision }) : '—');
    fact(dl, 'Last change', UO.timeEl(r.lastChange));
    fact(dl, 'Last reconcile', UO.timeEl(r.lastReconcile));
    els.facts.replaceWith(dl);
    dl.id = 'facts';
    els.facts = dl;
  }

  function renderError(r) {
    const e = r.lastError;
    els.errorSec.hidden = !e;
    if (!e) { els.error.replaceChildren(); return; }
    const dl = h('dl', { class: 'facts' });
    fact(dl, 'Class', UO.pill(e.class === 'permanent' ? 'bad' : 'warn', e.class === 'permanent' ? '✕' : '⟳', e.class || 'unknown'),
      h('span', { class: 'reason muted', text: e.class === 'permanent' ? 'Needs a change in Git or the cluster; not retried.' : 'Retried automatically.' }));
    fact(dl, 'Reason', h('strong', { text: e.reason || '—' }));
    fact(dl, 'Message', h('pre', { class: 'notes', text: e.message || '' }));
    fact(dl, 'When', UO.timeEl(e.time));
    if (UO.parseTime(e.retryAt)) fact(dl, 'Next attempt', UO.timeEl(e.retryAt));
    if (e.details !== undefined && e.details !== null) {
      fact(dl, 'Details', h('pre', { id: 'error-details', tabindex: 0, text: typeof e.details === 'string' ? e.details : JSON.stringify(e.details, null, 2) }));
    }
    UO.replace(els.error, dl);
  }

  function renderCleanup(r) {
    const c = r.cleanup;
    els.cleanupSec.hidden = !c;
    if (!c) { els.cleanup.replaceChildren(); return; }
    const rows = (c.steps || []).map((s) => h('tr', {},
      h('th', { scope: 'row', text: s.name }),
      h('td', {}, UO.badge('step', s.state)),
      h('td', { text: s.message || '' }),
      h('td', {}, UO.timeEl(s.time))));
    UO.replace(els.cleanup,
      h('p', {}, 'Uninstall: ', UO.badge('step', c.state), c.reason ? h('span', { class: 'reason', text: c.reason }) : null),
      rows.length ? table('Cleanup steps, in order', ['Step', 'State', 'Message', 'When'], rows) : null,
      c.left && c.left.length ? [h('h3', { text: 'Left for you to do by hand' }), h('ul', {}, c.left.map((x) => h('li', { text: x })))] : null);
  }

  function renderDrift(r) {
    const d = r.drift || [];
    if (!d.length) {
      UO.replace(els.drift, h('p', { class: 'muted', text: r.sync === 'OutOfSync'
        ? 'No field-level differences reported.' : 'None: Marathon runs what Git declares.' }));
      return;
    }
    const kinds = { modified: 'changed in Marathon', missing: 'missing in Marathon', extra: 'only in Marathon' };
    const val = (v, present) => present ? h('code', { text: UO.compactJSON(v) }) : h('span', { class: 'muted', text: '(absent)' });
    const rows = d.map((x) => h('tr', {},
      h('th', { scope: 'row' }, h('code', { text: x.path })),
      h('td', { text: kinds[x.kind] || x.kind }),
      h('td', { class: 'json' }, val(x.desired, x.desired !== undefined && x.kind !== 'extra')),
      h('td', { class: 'json' }, val(x.actual, x.actual !== undefined && x.kind !== 'missing'))));
    UO.replace(els.drift, table(d.length + (d.length === 1 ? ' difference' : ' differences') + ' between Git and Marathon',
      ['Path', 'Change', 'Git (desired)', 'Marathon (actual)'], rows, 'drift'));
  }

  function renderHistory(r) {
    const hist = r.history || [];
    if (!hist.length) { UO.replace(els.history, h('p', { class: 'muted', text: 'Nothing deployed yet.' })); return; }
    const rows = hist.map((v) => {
      let action;
      if (v.current) action = h('span', { class: 'muted', text: 'current' });
      else if (!v.rollbackable) action = h('span', { class: 'muted', text: '—' });
      else if (pendingRollback === v.id) {
        action = h('span', { class: 'confirm' },
          h('span', { text: 'Roll back to #' + v.id + '? ' }),
          h('button', { type: 'button', 'data-key': 'rbc:' + v.id, on: { click: () => rollback(v.id) }, text: 'Confirm rollback' }),
          ' ',
          h('button', { type: 'button', class: 'secondary', 'data-key': 'rbx:' + v.id, on: { click: () => askRollback(null, v.id) }, text: 'Cancel' }));
      } else {
        action = h('button', { type: 'button', class: 'secondary', 'data-key': 'rb:' + v.id,
          on: { click: () => askRollback(v.id) }, text: 'Roll back to #' + v.id });
      }
      return h('tr', { 'data-revision': v.id },
        h('th', { scope: 'row', text: '#' + v.id + (v.current ? ' (current)' : '') }),
        h('td', { text: versionText(v.version, v.release) }),
        h('td', {}, UO.timeEl(v.deployedAt)),
        h('td', {}, UO.badge('outcome', v.outcome)),
        h('td', {}, v.reason || '', v.hash ? h('span', { class: 'counts' }, 'hash ', h('code', { text: v.hash })) : null),
        h('td', {}, action));
    });
    UO.replace(els.history, table('Deployed definitions, newest first', ['Revision', 'Version', 'Deployed', 'Outcome', 'Reason', 'Rollback'], rows));
  }

  function renderNotes(r) {
    const n = r.notes || {};
    const parts = [['preInstall', 'Before install'], ['postInstall', 'After install'], ['postUninstall', 'After uninstall']]
      .filter(([k]) => n[k])
      .map(([k, label]) => [h('h3', { text: label }), h('pre', { class: 'notes', 'data-note': k, text: n[k] })]);
    UO.replace(els.notes, parts.length ? parts : h('p', { class: 'muted', text: 'This package has no notes.' }));
  }

  function renderEvents(r) {
    const ev = r.events || [];
    if (!ev.length) { UO.replace(els.events, h('p', { class: 'muted', text: 'No recent events.' })); return; }
    const rows = ev.map((e) => h('tr', {},
      h('th', { scope: 'row' }, UO.timeEl(e.time)),
      h('td', {}, UO.badge('event', e.type || 'Normal')),
      h('td', {}, h('strong', { text: e.reason || '' })),
      h('td', { text: e.message || '' })));
    UO.replace(els.events, table('Recent events, most recent first', ['When', 'Type', 'Reason', 'Message'], rows));
  }

  // ---- Definition and the raw comparison with Marathon ----
  const STATUS_FIELDS = ['version', 'versionInfo', 'tasks', 'tasksRunning', 'tasksStaged', 'tasksHealthy', 'tasksUnhealthy',
    'deployments', 'lastTaskFailure', 'taskStats', 'readinessCheckResults'];
  function canonical(v) {
    if (Array.isArray(v)) return v.map(canonical);
    if (v && typeof v === 'object') {
      const out = {};
      for (const k of Object.keys(v).sort()) out[k] = canonical(v[k]);
      return out;
    }
    return v;
  }
  function parseOrNull(text) { try { return JSON.parse(text); } catch (e) { return null; } }

  // lineDiff returns [[op, line]] with op ' ', '-' (only in a) or '+' (only in b).
  function lineDiff(a, b) {
    let pre = 0;
    while (pre < a.length && pre < b.length && a[pre] === b[pre]) pre++;
    let suf = 0;
    while (suf < a.length - pre && suf < b.length - pre && a[a.length - 1 - suf] === b[b.length - 1 - suf]) suf++;
    const A = a.slice(pre, a.length - suf);
    const B = b.slice(pre, b.length - suf);
    const out = a.slice(0, pre).map((l) => [' ', l]);
    const n = A.length;
    const m = B.length;
    if (n * m > 2500000) {
      for (const l of A) out.push(['-', l]);
      for (const l of B) out.push(['+', l]);
    } else {
      // Longest common subsequence table, from the end.
      const w = m + 1;
      const L = new Uint32Array((n + 1) * w);
      for (let i = n - 1; i >= 0; i--) {
        for (let j = m - 1; j >= 0; j--) {
          L[i * w + j] = A[i] === B[j] ? L[(i + 1) * w + j + 1] + 1 : Math.max(L[(i + 1) * w + j], L[i * w + j + 1]);
        }
      }
      let i = 0;
      let j = 0;
      while (i < n && j < m) {
        if (A[i] === B[j]) { out.push([' ', A[i]]); i++; j++; } else if (L[(i + 1) * w + j] >= L[i * w + j + 1]) { out.push(['-', A[i]]); i++; } else { out.push(['+', B[j]]); j++; }
      }
      while (i < n) out.push(['-', A[i++]]);
      while (j < m) out.push(['+', B[j++]]);
    }
    for (const l of a.slice(a.length - suf)) out.push([' ', l]);
    return out;
  }
  function renderCompare(defText, appRes) {
    if (!appRes) { UO.replace(els.compare, 'Marathon has no app for this release.'); return; }
    if (!appRes.ok) {
      UO.replace(els.compare, appRes.status === 404 ? 'Marathon has no app for this release.' : 'Could not load Marathon\'s app (HTTP ' + appRes.status + '): ' + UO.errorText(appRes));
      return;
    }
    const want = parseOrNull(defText);
    const have = parseOrNull(appRes.text);
    if (!want || !have || typeof have !== 'object') { UO.replace(els.compare, 'One side is not valid JSON; nothing to compare.'); return; }
    for (const f of STATUS_FIELDS) delete have[f];
    const a = JSON.stringify(canonical(want), null, 2).split('\n');
    const b = JSON.stringify(canonical(have), null, 2).split('\n');
    const ops = lineDiff(a, b);
    if (ops.every(([op]) => op === ' ')) { UO.replace(els.compare, 'Identical (keys sorted, status fields left out).'); return; }
    // Show changes with 3 lines of context; fold long unchanged runs.
    const keep = new Array(ops.length).fill(false);
    ops.forEach(([op], i) => {
      if (op !== ' ') for (let k = Math.max(0, i - 3); k <= Math.min(ops.length - 1, i + 3); k++) keep[k] = true;
    });
    const lines = [];
    for (let i = 0; i < ops.length;) {
      if (keep[i]) {
        const [op, l] = ops[i];
        lines.push(h('span', { class: 'line' + (op === '-' ? ' del' : op === '+' ? ' add' : '') }, op + ' ' + l));
        i++;
      } else {
        let j = i;
        while (j < ops.length && !keep[j]) j++;
        lines.push(h('span', { class: 'line skip-lines', text: '  … ' + (j - i) + ' unchanged lines …' }));
        i = j;
      }
    }
    UO.replace(els.compare, lines);
  }

  function definitionKey(r) {
    return [r.lastChange, r.resolvedVersion, r.resolvedRelease, r.deployedVersion, r.deployedRelease, r.manifestRevision,
      r.universeRevision, r.sync, (r.history || []).map((x) => x.hash).join(',')].join('|');
  }
  // The definition and Marathon's app are fetched once, then again only when
  // the release moved (debounced, so a burst of status updates is one fetch).
  function scheduleDefinition() {
    const key = definitionKey(rel);
    if (key === defKey) return;
    const first = defKey === null;
    defKey = key;
    if (defTimer) clearTimeout(defTimer);
    defTimer = setTimeout(loadDefinition, first ? 0 : 250);
  }
  async function loadDefinition() {
    defTimer = null;
    if (rel && rel.sync === 'Deleting') {
      // Removed from Git: there is no desired definition any more.
      els.definition.textContent = 'None: the release was removed from Git and is being uninstalled.';
      UO.replace(els.compare, 'Nothing to compare: the release was removed from Git.');
      return;
    }
    try {
      const def = await UO.request(UO.releaseAPI(name, 'definition'));
      els.definition.textContent = def.ok ? UO.pretty(def.text)
        : 'No rendered definition (HTTP ' + def.status + '): ' + UO.errorText(def);
      // Fetch Marathon's app only when Marathon reports one (its labels give
      // the deployed version, or it has a status), so a release that was
      // never deployed does not produce a 404.
      let app = null;
      if (rel && (rel.deployedVersion || (rel.status && rel.status !== 'NA'))) {
        app = await UO.request(UO.releaseAPI(name, 'app'));
      }
      if (def.ok) renderCompare(def.text, app);
      else UO.replace(els.compare, 'No rendered definition to compare.');
    } catch (e) {
      els.definition.textContent = 'Could not reach the controller: ' + e.message;
    }
  }

  // ---- Actions ----
  function say(msg, ok) {
    els.actionError.replaceChildren();
    els.status.replaceChildren();
    if (!msg) return;
    if (ok) UO.replace(els.status, h('p', { class: 'success' }, h('span', { 'aria-hidden': 'true', text: '✓ ' }), msg));
    else UO.replace(els.actionError, h('p', { class: 'alert' }, h('span', { 'aria-hidden': 'true', text: '✕ ' }), msg));
  }
  // While a request is in flight the buttons are marked aria-disabled and
  // ignore clicks; they are not disabled, so keyboard focus stays on them.
  function setBusy(b) {
    busy = b;
    for (const btn of [els.syncBtn, ...els.history.querySelectorAll('button')]) {
      if (b) btn.setAttribute('aria-disabled', 'true'); else btn.removeAttribute('aria-disabled');
    }
  }
  async function act(kind, body, label) {
    if (busy) return;
    say(null);
    setBusy(true);
    try {
      const res = await UO.post(UO.releaseAPI(name, kind), body);
      if (res.status === 401 || res.status === 403) {
        const had = !!UO.getToken();
        say((had ? 'The controller refused the saved UI token' : 'The controller needs a UI token for this') +
          ' (HTTP ' + res.status + '): ' + label + ' was not started. Enter the token under “UI token”, save it and try again.', false);
        els.token.focus();
      } else if (res.ok) {
        say((res.json && res.json.message) || label + ' queued.', true);
      } else {
        say(label + ' failed (HTTP ' + res.status + '): ' + UO.errorText(res), false);
      }
    } catch (e) {
      say(label + ' failed: the controller could not be reached (' + e.message + ').', false);
    } finally {
      setBusy(false);
    }
  }
  els.syncBtn.addEventListener('click', () => act('sync', undefined, 'Sync of ' + name));
  function askRollback(id, back) {
    pendingRollback = id;
    if (rel) renderHistory(rel);
    const key = id != null ? 'rbc:' + id : 'rb:' + back;
    const el = document.querySelector('[data-key="' + CSS.escape(key) + '"]');
    if (el) el.focus();
  }
  function rollback(id) {
    pendingRollback = null;
    if (rel) renderHistory(rel);
    const el = document.querySelector('[data-key="' + CSS.escape('rb:' + id) + '"]');
    if (el) el.focus();
    act('rollback', { revision: id }, 'Rollback to revision #' + id);
  }

  function showTokenState() {
    els.tokenState.textContent = UO.getToken() ? 'A token is saved for this tab.' : 'No token saved.';
  }
  els.tokenForm.addEventListener('submit', (e) => {
    e.preventDefault();
    const v = els.token.value.trim();
    UO.setToken(v);
    els.token.value = '';
    showTokenState();
    say(v ? 'Token saved for this tab.' : 'Token cleared.', true);
  });
  els.tokenForget.addEventListener('click', () => {
    UO.setToken('');
    showTokenState();
    say('Token forgotten.', true);
  });

  // ---- Data ----
  function update(r) {
    rel = r;
    els.removed.hidden = true;
    showLoadError(null);
    render();
    scheduleDefinition();
  }

  async function load() {
    if (!name) {
      showLoadError('No release given: the address must be release.html?name=<release>.');
      return false;
    }
    els.crumb.textContent = name;
    try {
      const res = await UO.request(UO.releaseAPI(name));
      if (res.status === 404) showLoadError('There is no release named “' + name + '”.');
      else if (!res.ok || !res.json) showLoadError('Could not load the release (HTTP ' + res.status + '): ' + UO.errorText(res));
      else update(res.json);
    } catch (e) {
      showLoadError('Could not reach the controller: ' + e.message);
    }
    return true;
  }

  let seen = false;
  function onEvent(type, d) {
    switch (type) {
      case 'open': seen = false; break;
      case 'release': if (d.name === name) { seen = true; update(d); } break;
      case 'removed': if (d.name === name) { els.removed.hidden = false; } break;
      case 'ready': if (!seen && rel) els.removed.hidden = false; break;
    }
  }

  showTokenState();
  load().then((ok) => { if (ok) UO.live('api/v1/stream?release=' + encodeURIComponent(name), onEvent); });
})();
