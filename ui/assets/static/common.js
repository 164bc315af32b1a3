/* universe-operator UI: helpers shared by the overview and the release page.
 *
 * Rules this file keeps and the pages follow:
 * - Every URL is relative to the page (api/v1/..., release.html?...), so the
 *   UI works at "/" and behind DC/OS Admin Router under /service/<name>/.
 * - Data from the API (names, package notes, error messages: partly written
 *   by third parties) only ever reaches the page as text (textContent,
 *   createTextNode) or as attribute values checked first (URLs). Nothing is
 *   ever parsed as HTML (no innerHTML, insertAdjacentHTML, document.write).
 * - No inline scripts or styles (the Content-Security-Policy forbids them).
 */
(function () {
  'use strict';

  const UO = {};

  // h creates an element. attrs: class, text, on: {event: fn}; true sets a
  // boolean attribute, false/null/undefined leaves it out, anything else is
  // set with setAttribute (as text, never parsed). Children: nodes, strings
  // (text nodes), arrays, null (skipped).
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    if (attrs) {
      for (const [k, v] of Object.entries(attrs)) {
        if (v === undefined || v === null || v === false) continue;
        if (k === 'class') el.className = v;
        else if (k === 'text') el.textContent = String(v);
        else if (k === 'on') for (const [ev, fn] of Object.entries(v)) el.addEventListener(ev, fn);
        else if (v === true) el.setAttribute(k, '');
        else el.setAttribute(k, String(v));
      }
    }
    append(el, children);
    return el;
  }
  function append(el, c) {
    if (c === null || c === undefined || c === false) return;
    if (Array.isArray(c)) { for (const x of c) append(el, x); return; }
    el.appendChild(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  UO.h = h;

  // replace empties el and appends children.
  UO.replace = function (el, ...children) {
    el.replaceChildren();
    append(el, children);
  };

  // ---- URLs (all relative) ----
  UO.releasePage = (name) => 'release.html?name=' + encodeURIComponent(name);
  UO.releaseAPI = (name, sub) => 'api/v1/releases/' + encodeURIComponent(name) + (sub ? '/' + sub : '');

  // DC/OS service links are absolute paths on the DC/OS host ("/service/kafka/").
  // Behind Admin Router this UI itself is served under "/service/universe-operator/"
  // (or "/service/<group>/universe-operator/" when installed in a group), and
  // Admin Router strips that prefix before the request reaches the controller,
  // so the controller cannot know it. The page can: the DC/OS root is the part
  // of the page's own directory before its first "/service/" segment ("" on a
  // normal cluster; the whole prefix if DC/OS itself sits under a path). Under
  // `dev` the UI is at "/" and there is no "/service/" part: the root is "".
  UO.dcosRoot = function () {
    const dir = location.pathname.replace(/[^/]*$/, '');
    const i = dir.indexOf('/service/');
    return i >= 0 ? dir.slice(0, i) : '';
  };
  // serviceHref returns the href for a release's serviceLink, or null when
  // the value is not a path on this host or an http(s) URL.
  UO.serviceHref = function (link) {
    if (!link || typeof link !== 'string') return null;
    if (/^https?:\/\//i.test(link)) return link;
    if (link[0] !== '/' || link[1] === '/' || link[1] === '\\') return null;
    return UO.dcosRoot() + link;
  };

  // ---- HTTP ----
  // request fetches url and returns {ok, status, text, json}; it throws only
  // when the controller cannot be reached.
  UO.request = async function (url, opts) {
    const resp = await fetch(url, Object.assign({ cache: 'no-store', credentials: 'same-origin' }, opts || {}));
    const text = await resp.text();
    let json = null;
    try { json = text ? JSON.parse(text) : null; } catch (e) { json = null; }
    return { ok: resp.ok, status: resp.status, text: text, json: json };
  };
  // errorText is the human message of a failed answer (api.ErrorResponse).
  UO.errorText = function (res) {
    if (res.json && typeof res.json.message === 'string' && res.json.message) return res.json.message;
    const t = (res.text || '').trim();
    return t ? t.slice(0, 300) : 'HTTP ' + res.status;
  };

  // The UI token guards sync and rollback. It lives in sessionStorage: this
  // tab only, gone when the tab closes.
  const TOKEN_KEY = 'universe-operator.ui-token';
  let memoryToken = '';
  UO.getToken = function () {
    try { return sessionStorage.getItem(TOKEN_KEY) || ''; } catch (e) { return memoryToken; }
  };
  UO.setToken = function (v) {
    memoryToken = v || '';
    try {
      if (v) sessionStorage.setItem(TOKEN_KEY, v); else sessionStorage.removeItem(TOKEN_KEY);
    } catch (e) { /* storage disabled: keep it in memory */ }
  };
  // post sends a JSON POST with the token when one is saved.
  UO.post = function (url, body) {
    const headers = { Accept: 'application/json' };
    const token = UO.getToken();
    if (token) headers.Authorization = 'Bearer ' + token;
    const opts = { method: 'POST', headers: headers };
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      opts.body = JSON.stringify(body);
    }
    return UO.request(url, opts);
  };

  // ---- Time ----
  // parseTime returns a Date, or null for absent and zero times.
  UO.parseTime = function (s) {
    if (!s || typeof s !== 'string' || s.startsWith('0001-')) return null;
    const d = new Date(s);
    return isNaN(d.getTime()) ? null : d;
  };
  UO.exactTime = function (d) {
    return d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z').replace(/Z$/, ' UTC');
  };
  UO.relTime = function (d, now) {
    const secs = Math.round(((now || Date.now()) - d.getTime()) / 1000);
    const past = secs >= 0;
    const s = Math.abs(secs);
    let v;
    if (s < 45) return past ? 'just now' : 'in a few seconds';
    if (s < 90) v = '1 min';
    else if (s < 45 * 60) v = Math.round(s / 60) + ' min';
    else if (s < 90 * 60) v = '1 h';
    else if (s < 24 * 3600) v = Math.round(s / 3600) + ' h';
    else if (s < 48 * 3600) v = '1 day';
    else v = Math.round(s / 86400) + ' days';
    return past ? v + ' ago' : 'in ' + v;
  };
  // timeEl is a <time> with a relative text (kept fresh) and the exact time
  // in its title and datetime attribute; "—" when the time is unknown.
  UO.timeEl = function (iso) {
    const d = UO.parseTime(iso);
    if (!d) return h('span', { class: 'muted', text: '—' });
    return h('time', { datetime: d.toISOString(), title: UO.exactTime(d), 'data-rel': '1', text: UO.relTime(d) });
  };
  function refreshTimes() {
    const now = Date.now();
    for (const el of document.querySelectorAll('time[data-rel]')) {
      const d = new Date(el.getAttribute('datetime'));
      const t = UO.relTime(d, now);
      if (el.textContent !== t) el.textContent = t;
    }
  }
  setInterval(refreshTimes, 20000);

  // ---- States: colour + symbol + word, never colour alone ----
  const TONES = {
    sync: {
      Synced: ['ok', '✓'], OutOfSync: ['warn', '≠'], Progressing: ['info', '⟳'], Failed: ['bad', '✕'],
      Suspended: ['neutral', '‖'], Deleting: ['warn', '⊘'], Unknown: ['neutral', '?'],
    },
    health: { Healthy: ['ok', '✓'], Unhealthy: ['bad', '✕'], Idle: ['neutral', '◌'], NA: ['neutral', '–'] },
    status: {
      Running: ['ok', '▶'], Deploying: ['info', '⟳'], Delayed: ['warn', '◷'], Recovering: ['warn', '↺'],
      Stopped: ['neutral', '■'], Deleting: ['warn', '⊘'], NA: ['neutral', '–'],
    },
    outcome: {
      Succeeded: ['ok', '✓'], Failed: ['bad', '✕'], InProgress: ['info', '⟳'], RolledBack: ['warn', '↺'],
      Superseded: ['neutral', '–'],
    },
    step: {
      Done: ['ok', '✓'], Failed: ['bad', '✕'], Running: ['info', '⟳'], Pending: ['neutral', '…'], Skipped: ['neutral', '–'],
      Complete: ['ok', '✓'], Incomplete: ['bad', '✕'],
    },
    event: { Normal: ['neutral', 'ℹ'], Warning: ['warn', '⚠'] },
  };
  // badge renders a state. kind: sync|health|status|outcome|step|event.
  UO.badge = function (kind, value, extra, title) {
    const v = value || (kind === 'sync' ? 'Unknown' : 'NA');
    const t = (TONES[kind] && TONES[kind][v]) || ['neutral', '•'];
    return h('span', { class: 'state tone-' + t[0], title: title || null, 'data-state': v },
      h('span', { class: 'sym', 'aria-hidden': 'true', text: t[1] }),
      h('span', { class: 'word', text: extra ? v + ' ' + extra : v }));
  };

  // pill is a badge with a free text: tone ok|bad|warn|info|neutral.
  UO.pill = function (tone, sym, text, title) {
    return h('span', { class: 'state tone-' + tone, title: title || null },
      h('span', { class: 'sym', 'aria-hidden': 'true', text: sym }), h('span', { class: 'word', text: text }));
  };

  // healthBadge shows DC/OS health with healthy/instances, e.g. "Healthy 3/3".
  UO.healthBadge = function (r) {
    const t = r.tasks || {};
    const inst = t.instances || 0;
    const counts = (inst > 0 || (t.running || 0) > 0) ? (t.healthy || 0) + '/' + inst : '';
    const title = (t.healthy || 0) + ' healthy, ' + (t.unhealthy || 0) + ' unhealthy, ' + (t.running || 0) +
      ' running, ' + (t.staged || 0) + ' staged, ' + inst + ' instances';
    return UO.badge('health', r.health, counts, title);
  };
  UO.statusBadge = function (r) {
    const t = r.tasks || {};
    const inst = t.instances || 0;
    const counts = (inst > 0 || (t.running || 0) > 0) ? (t.running || 0) + '/' + inst : '';
    return UO.badge('status', r.status || 'NA', counts, (t.running || 0) + ' of ' + inst + ' instances running');
  };

  // ---- Icons ----
  function safeImageURL(s) {
    if (!s || typeof s !== 'string') return null;
    let u;
    try { u = new URL(s, document.baseURI); } catch (e) { return null; }
    if (u.protocol === 'https:' || u.protocol === 'http:') return u.href;
    if (u.protocol === 'data:' && /^data:image\/(png|gif|jpeg|webp|svg\+xml)[;,]/i.test(s)) return s;
    return null;
  }
  function initials(s) {
    const parts = String(s || '?').split(/[-_.\s/]+/).filter(Boolean);
    const a = parts.length ? parts[0][0] : '?';
    const b = parts.length > 1 ? parts[1][0] : '';
    return (a + b).toUpperCase();
  }
  function hashIndex(s, n) {
    let x = 0;
    for (const ch of String(s)) x = (x * 31 + ch.codePointAt(0)) >>> 0;
    return x % n;
  }
  // iconFor returns the package icon, or a coloured badge with the package's
  // initials when there is none or it fails to load (e.g. an offline cluster).
  // Decorative: the name is always next to it.
  UO.iconFor = function (r, large) {
    const key = r.package || r.name || '?';
    const badge = () => h('span', {
      class: 'badge-icon bg' + hashIndex(key, 8) + (large ? ' large' : ''), 'aria-hidden': 'true', text: initials(key),
    });
    const src = safeImageURL(r.icon);
    if (!src) return badge();
    const size = large ? 48 : 32;
    const img = h('img', {
      class: 'icon' + (large ? ' large' : ''), src: src, alt: '', width: size, height: size,
      referrerpolicy: 'no-referrer', decoding: 'async',
    });
    img.addEventListener('error', () => img.replaceWith(badge()), { once: true });
    return img;
  };

  // ---- Focus across re-renders ----
  // Elements that can take focus carry data-key. withFocus runs fn (which may
  // replace them) and puts the focus back on the element with the same key.
  UO.withFocus = function (fn) {
    const a = document.activeElement;
    const key = a && a.getAttribute ? a.getAttribute('data-key') : null;
    fn();
    if (key && document.activeElement !== a) {
      const again = document.querySelector('[data-key="' + CSS.escape(key) + '"]');
      if (again) again.focus({ preventScroll: true });
    }
  };

  // ---- JSON ----
  UO.pretty = function (text) {
    try { return JSON.stringify(JSON.parse(text), null, 2); } catch (e) { return text; }
  };
  UO.compactJSON = function (v) {
    if (v === undefined) return '';
    try { return JSON.stringify(v); } catch (e) { return String(v); }
  };

  // ---- Live updates (server-sent events) ----
  // live opens an EventSource on url and calls on(type, data) for "open",
  // "release", "removed", "controller", "ready" and "down". The indicator
  // (#live) shows Live / Reconnecting…; when the browser gives up (the
  // server answered with an error) it retries with a growing delay.
  UO.live = function (url, on) {
    const el = document.getElementById('live');
    const text = document.getElementById('live-text');
    let es = null;
    let delay = 1000;
    let wasLive = false;
    function set(state, label) {
      if (el) el.setAttribute('data-state', state);
      if (text && text.textContent !== label) text.textContent = label;
    }
    function parse(e) {
      try { return JSON.parse(e.data); } catch (err) { console.warn('universe-operator: bad event data', err); return null; }
    }
    function open() {
      set(wasLive ? 'reconnecting' : 'connecting', wasLive ? 'Reconnecting…' : 'Connecting…');
      es = new EventSource(url);
      es.addEventListener('open', () => { delay = 1000; wasLive = true; set('live', 'Live'); on('open', null); });
      for (const type of ['release', 'removed', 'controller', 'ready']) {
        es.addEventListener(type, (e) => { const d = parse(e); if (d) on(type, d); });
      }
      es.addEventListener('error', () => {
        if (!es) return;
        if (wasLive) on('down', null);
        if (es.readyState === EventSource.CLOSED) {
          es.close();
          es = null;
          set('offline', 'Offline: retrying in ' + Math.round(delay / 1000) + ' s');
          setTimeout(open, delay);
          delay = Math.min(delay * 2, 30000);
        } else {
          set('reconnecting', 'Reconnecting…');
        }
      });
    }
    open();
    window.addEventListener('pagehide', () => { if (es) { es.close(); es = null; } });
  };

  // ---- Polite announcements, batched so a burst is one message ----
  UO.announcer = function (el) {
    let queue = [];
    let timer = null;
    return function (msg) {
      queue.push(msg);
      if (timer) return;
      timer = setTimeout(() => {
        const shown = queue.slice(0, 3);
        let text = shown.join('. ') + '.';
        if (queue.length > 3) text += ' And ' + (queue.length - 3) + ' more changes.';
        queue = [];
        timer = null;
        el.textContent = text;
      }, 1500);
    };
  };

  window.UO = UO;
})();
