// Agent Inbox: the little htmx cannot do without eval (the CSP forbids eval, hx-on and
// trigger filters). Theme, the poll's start and stop with the tab's visibility, keyboard
// shortcuts, and keeping focus in place across swaps. No inline handlers anywhere.
(function () {
  "use strict";

  var root = document.documentElement;

  // -- theme: the server keeps the choice; the answer names it (HX-Trigger inbox:theme) -----
  document.addEventListener("inbox:theme", function (event) {
    var theme = event.detail && event.detail.value;
    if (theme === "light" || theme === "dark") {
      root.setAttribute("data-theme", theme);
    } else {
      root.removeAttribute("data-theme");
    }
  });

  // -- polling: one poll per page, only while the tab is visible -----------------------------
  var timer = null;

  function pollElement() {
    return document.getElementById("poll");
  }

  // A hidden tab polls only when told to (data-poll-hidden-seconds: the one tab the activity
  // section elected to raise desktop notifications), and then slowly.
  function hiddenSeconds(element) {
    var seconds = parseFloat(element.getAttribute("data-poll-hidden-seconds"));
    return seconds > 0 ? seconds : 0;
  }

  function pollNow() {
    var element = pollElement();
    if (!element || !window.htmx) return;
    if (document.visibilityState !== "visible" && !hiddenSeconds(element)) return;
    window.htmx.trigger(element, "inbox:poll");
  }

  function stopPolling() {
    if (timer !== null) window.clearInterval(timer);
    timer = null;
  }

  function startPolling() {
    stopPolling();
    var element = pollElement();
    if (!element) return;
    var seconds;
    if (document.visibilityState === "visible") {
      seconds = parseFloat(element.getAttribute("data-poll-seconds")) || 10;
      pollNow();
    } else {
      seconds = hiddenSeconds(element);
      if (!seconds) return;
    }
    timer = window.setInterval(pollNow, Math.max(1, seconds) * 1000);
  }

  document.addEventListener("visibilitychange", startPolling);
  // "Poll now" for whoever needs fresh counts at once (after a write, or a test).
  document.addEventListener("inbox:poll-now", pollNow);
  // The pace changed (the drawer opened or closed, a tab was elected): start again with it.
  document.addEventListener("inbox:poll-restart", startPolling);

  // -- keyboard: j/k move, Enter opens, g then a letter jumps to a view, ? lists them ------
  var awaitingView = false;
  var awaitingTimer = null;

  function typing(target) {
    if (!target || !target.tagName) return false;
    var tag = target.tagName.toLowerCase();
    return tag === "input" || tag === "textarea" || tag === "select" || target.isContentEditable;
  }

  function rowLinks() {
    return Array.prototype.slice.call(document.querySelectorAll("tr[data-row] .ticket-link"));
  }

  function moveRow(step) {
    var links = rowLinks();
    if (!links.length) return;
    var current = links.indexOf(document.activeElement);
    var next = current === -1 ? (step > 0 ? 0 : links.length - 1) : current + step;
    next = Math.max(0, Math.min(links.length - 1, next));
    links[next].focus();
    links[next].scrollIntoView({ block: "nearest" });
  }

  function jumpToView(letter) {
    var link = document.querySelector('.sidebar a[data-shortcut="' + letter + '"]');
    if (link) link.click();
  }

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.altKey || event.ctrlKey || event.metaKey) return;
    if (typing(event.target)) return;
    var dialog = document.getElementById("shortcuts");
    if (dialog && dialog.open) return;
    if (awaitingView) {
      awaitingView = false;
      window.clearTimeout(awaitingTimer);
      if (/^[a-z]$/.test(event.key)) {
        event.preventDefault();
        jumpToView(event.key);
      }
      return;
    }
    if (event.key === "j") { event.preventDefault(); moveRow(1); }
    else if (event.key === "k") { event.preventDefault(); moveRow(-1); }
    else if (event.key === "g") {
      awaitingView = true;
      awaitingTimer = window.setTimeout(function () { awaitingView = false; }, 1500);
    } else if (event.key === "?" && dialog) {
      event.preventDefault();
      dialog.showModal();
    }
  });

  // -- focus is never lost after a swap ------------------------------------------------------
  var focusBefore = null;

  document.addEventListener("htmx:beforeSwap", function (event) {
    var target = event.detail.target;
    var active = document.activeElement;
    focusBefore = null;
    if (!target || !active || (active !== document.body && !target.contains(active))) return;
    var links = rowLinks();
    focusBefore = {
      key: active.getAttribute && active.getAttribute("data-focus-key"),
      row: links.indexOf(active),
      id: active.id || null,
    };
  });

  document.addEventListener("htmx:afterSettle", function (event) {
    var target = event.detail.target;
    if (!focusBefore || !target) return;
    var wanted = focusBefore;
    focusBefore = null;
    var found = null;
    if (wanted.key) found = document.querySelector('[data-focus-key="' + wanted.key + '"]');
    if (!found && wanted.id) found = document.getElementById(wanted.id);
    if (!found && wanted.row >= 0) {
      var links = rowLinks();
      if (links.length) found = links[Math.min(wanted.row, links.length - 1)];
    }
    if (!found) found = document.getElementById("list-title") || document.getElementById("main");
    if (found) found.focus();
  });

  // -- the sidebar marks the view the address shows (after htmx moved the address) ----------
  document.addEventListener("htmx:pushedIntoHistory", function () {
    var path = window.location.pathname;
    document.querySelectorAll(".sidebar a.view-link").forEach(function (link) {
      if (link.getAttribute("href") === path) link.setAttribute("aria-current", "page");
      else link.removeAttribute("aria-current");
    });
  });

  // == the ticket page (issue G): r reply, n note, Ctrl/Cmd+Enter sends, Esc leaves the editor ==
  function replyForm() {
    return document.getElementById("reply-form");
  }

  function openEditor(kind) {
    var form = replyForm();
    if (!form) return false;
    var radio = document.getElementById(kind === "note" ? "kind-note" : "kind-public");
    var body = document.getElementById("reply-body");
    if (radio) radio.checked = true;
    if (radio) radio.dispatchEvent(new Event("change", { bubbles: true }));
    if (body) {
      body.focus();
      body.scrollIntoView({ block: "nearest" });
    }
    return true;
  }

  document.addEventListener("keydown", function (event) {
    var form = replyForm();
    if (!form || event.defaultPrevented) return;
    var inForm = form.contains(event.target);
    if ((event.ctrlKey || event.metaKey) && event.key === "Enter" && inForm) {
      event.preventDefault();
      if (form.requestSubmit) form.requestSubmit();
      else form.submit();
      return;
    }
    if (event.key === "Escape" && inForm && typing(event.target)) {
      // Leave the editor; the text stays (and the draft is already on the server).
      event.preventDefault();
      event.target.blur();
      var title = document.getElementById("ticket-title");
      if (title) title.focus();
      return;
    }
    if (event.altKey || event.ctrlKey || event.metaKey || typing(event.target)) return;
    var dialog = document.getElementById("shortcuts");
    if (dialog && dialog.open) return;
    if (event.key === "r" && openEditor("public")) event.preventDefault();
    else if (event.key === "n" && openEditor("note")) event.preventDefault();
  });

  // Once the form is sent, a draft save still waiting on its delay must not bring the draft
  // back after the server cleared it.
  var sending = false;
  document.addEventListener("submit", function (event) {
    if (event.target && event.target.id === "reply-form") sending = true;
  });
  document.addEventListener("htmx:confirm", function (event) {
    var source = event.detail && event.detail.elt;
    if (sending && source && source.id === "draft-saver") event.preventDefault();
  });

  // The draft saver's answer: say the draft is kept (or why it was not).
  document.addEventListener("htmx:afterRequest", function (event) {
    var source = event.detail && event.detail.elt;
    if (!source || source.id !== "draft-saver") return;
    var state = document.getElementById("draft-state");
    if (!state) return;
    // By status, not `successful`: the app's htmx config counts a 400 as an answer to show.
    var xhr = event.detail.xhr;
    var kept = event.detail.successful && xhr && xhr.status >= 200 && xhr.status < 300;
    state.textContent = kept ? "Draft kept" : draftFailure(xhr);
  });

  // Why a draft was not kept, in the server's words when it gave them (its 400 page names the
  // reason in [data-reason]), else what the browser knows.
  function draftFailure(xhr) {
    if (!xhr || !xhr.status) return "Draft not saved: Agent Inbox did not answer; keep this tab open";
    if (xhr.status === 403) return "Draft not saved: this page is out of date; copy your text and reload";
    var reason = "";
    try {
      var page = new DOMParser().parseFromString(xhr.responseText || "", "text/html");
      var found = page.querySelector("[data-reason]");
      reason = found ? found.textContent.trim() : "";
    } catch (error) {
      reason = "";
    }
    if (reason) return "Draft not saved: " + reason;
    return "Draft not saved (Agent Inbox answered " + xhr.status + "); keep this tab open";
  }


  // -- create ticket: Ctrl/Cmd+Enter submits; one submit per click ---------------------------
  // The server makes at most one ticket per form anyway (its Idempotency-Key); the disabled
  // button only spares the agent a second wait.
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Enter" || !(event.ctrlKey || event.metaKey)) return;
    var form = event.target && event.target.closest && event.target.closest("form[data-submit-shortcut]");
    if (!form) return;
    event.preventDefault();
    if (form.requestSubmit) form.requestSubmit();
    else form.submit();
  });

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.hasAttribute || !form.hasAttribute("data-send-once")) return;
    if (form.getAttribute("data-sending") === "true") {
      event.preventDefault();
      return;
    }
    form.setAttribute("data-sending", "true");
    var button = form.querySelector('button[type="submit"]');
    if (button) {
      button.setAttribute("aria-disabled", "true");
      button.textContent = button.getAttribute("data-sending-label") || button.textContent;
    }
  });

  // Back to a page from the browser's cache: the form can be sent again.
  window.addEventListener("pageshow", function () {
    document.querySelectorAll("form[data-sending]").forEach(function (form) {
      form.removeAttribute("data-sending");
    });
  });

  // The page says what went wrong at the top: take the agent there.
  var notice = document.getElementById("form-notice");
  if (notice) notice.focus();

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", startPolling);
  } else {
    startPolling();
  }
})();

// == Activity: the bell, its drawer and desktop notifications ================================
// The drawer is a modal <dialog> (the page behind is inert, so focus stays inside; Esc closes;
// focus goes back to what opened it). The bell is refreshed by the one poll above: its answer
// carries #bell-news (the badge, the newest unread activities, the agent's choices). One tab of
// the browser is elected (Web Locks, or BroadcastChannel where locks are missing) to raise
// desktop notifications and to keep a slow poll while hidden; the others forward what they
// see to it and stay quiet.
(function () {
  "use strict";

  var LOCK_NAME = "agent-inbox-activity-notifier";
  var CHANNEL_NAME = "agent-inbox-activity";
  var THROUGH_KEY = "agent-inbox:activity-notified-through";
  var HIDDEN_POLL_SECONDS = 60;
  var TITLE_COUNT = /^\(\d+\+?\) /;

  var bell = document.getElementById("bell");
  if (!bell) return; // signed out: no bell, nothing to do

  var drawer = document.getElementById("activity-drawer");
  var opener = null;
  var unreadBadge = "";
  var prefs = null; // {desktop, sound, dnd} once the server said
  var role = "pending"; // pending | leader | follower
  var queued = [];
  var channel = "BroadcastChannel" in window ? new BroadcastChannel(CHANNEL_NAME) : null;
  var memoryThrough = null; // when localStorage is unavailable

  // -- the page title and the bell's name carry the unread count ----------------------------
  function showTitle() {
    var base = document.title.replace(TITLE_COUNT, "");
    var wanted = unreadBadge ? "(" + unreadBadge + ") " + base : base;
    if (document.title !== wanted) document.title = wanted;
  }

  // -- the drawer -----------------------------------------------------------------------------
  function pollElement() {
    return document.getElementById("poll");
  }

  function setPace(fast) {
    var poll = pollElement();
    if (!poll) return;
    if (!poll.hasAttribute("data-poll-normal-seconds")) {
      poll.setAttribute("data-poll-normal-seconds", poll.getAttribute("data-poll-seconds") || "10");
    }
    var normal = parseFloat(poll.getAttribute("data-poll-normal-seconds")) || 10;
    var seconds = fast ? Math.max(2, normal / 3) : normal;
    poll.setAttribute("data-poll-seconds", String(seconds));
    document.dispatchEvent(new CustomEvent("inbox:poll-restart"));
  }

  function focusHeading() {
    var heading = document.getElementById("activity-title");
    if (heading) heading.focus();
  }

  function openDrawer() {
    if (!drawer || typeof drawer.showModal !== "function") {
      window.location.assign(bell.getAttribute("data-drawer-url") || "/activity/");
      return;
    }
    if (drawer.open) return;
    opener = document.activeElement && document.activeElement !== document.body
      ? document.activeElement : bell;
    drawer.showModal();
    bell.setAttribute("aria-expanded", "true");
    focusHeading();
    if (window.htmx) window.htmx.trigger(drawer, "inbox:drawer-open");
    setPace(true);
  }

  function closeDrawer() {
    if (drawer && drawer.open) drawer.close();
  }

  bell.addEventListener("click", openDrawer);

  if (drawer) {
    drawer.addEventListener("close", function () {
      bell.setAttribute("aria-expanded", "false");
      setPace(false);
      var back = opener && document.contains(opener) ? opener : bell;
      opener = null;
      back.focus();
    });
    // A click on the backdrop (the dialog box itself, outside its content) closes it too.
    drawer.addEventListener("click", function (event) {
      if (event.target !== drawer) return;
      var box = drawer.getBoundingClientRect();
      var inside = event.clientX >= box.left && event.clientX <= box.right &&
        event.clientY >= box.top && event.clientY <= box.bottom;
      if (!inside) closeDrawer();
    });
    // The page's single-letter shortcuts are for the list behind; not while the drawer is open.
    window.addEventListener("keydown", function (event) {
      if (drawer.open && /^[jkg?]$/.test(event.key)) event.stopPropagation();
    }, true);
  }

  document.addEventListener("click", function (event) {
    var close = event.target.closest && event.target.closest("[data-drawer-close]");
    if (!close) return;
    if (drawer && drawer.open) closeDrawer();
    else if (!drawer) window.location.assign("/");
  });

  // After a swap inside the drawer focus stays in it (a swapped-out button leaves it nowhere).
  document.addEventListener("htmx:afterSettle", function (event) {
    showTitle(); // a list swap may have set a new <title>
    if (!drawer || !drawer.open) return;
    var target = event.detail && event.detail.target;
    if (!target || !drawer.contains(target)) return;
    if (!drawer.contains(document.activeElement) || document.activeElement === drawer) {
      focusHeading();
    }
    explainPermission();
  });

  // -- notification choices -------------------------------------------------------------------
  function notificationsSupported() {
    return "Notification" in window;
  }

  function explainPermission() {
    var help = document.querySelector("[data-notify-help]");
    if (!help) return;
    var text = "";
    if (!notificationsSupported()) {
      text = "This browser cannot show desktop notifications.";
    } else if (Notification.permission === "denied") {
      text = "Your browser blocks notifications from this site: allow them in its site settings.";
    } else if (prefs && prefs.desktop && role === "follower") {
      text = "Another tab of this browser shows the notifications.";
    }
    help.textContent = text;
  }

  // Asking for permission must happen in the click itself, before htmx posts the choice.
  document.addEventListener("change", function (event) {
    var box = event.target;
    if (!box || box.name !== "desktop" || !box.closest || !box.closest("#notify-prefs")) return;
    if (box.checked && notificationsSupported() && Notification.permission === "default") {
      var asked = Notification.requestPermission();
      if (asked && asked.then) asked.then(explainPermission);
    }
  }, true);

  function applyPrefs(next, announce) {
    prefs = next;
    electedPolling();
    explainPermission();
    if (announce && channel) channel.postMessage({ type: "prefs", prefs: next });
  }

  document.addEventListener("inbox:notify-prefs", function (event) {
    var detail = event.detail || {};
    applyPrefs({ desktop: !!detail.desktop, sound: !!detail.sound, dnd: !!detail.do_not_disturb }, true);
  });

  // -- the poll's answer ----------------------------------------------------------------------
  function readNews(element) {
    return Array.prototype.map.call(element.querySelectorAll("[data-activity-id]"), function (item) {
      return {
        id: parseInt(item.getAttribute("data-activity-id"), 10),
        url: item.getAttribute("data-url") || "",
        title: item.getAttribute("data-title") || "",
        body: item.getAttribute("data-body") || "",
      };
    });
  }

  function bellAnswered() {
    var element = document.getElementById("bell-news");
    if (!element || element.getAttribute("data-known") !== "1") return;
    unreadBadge = element.getAttribute("data-badge") || "";
    bell.setAttribute("aria-label", element.getAttribute("data-label") || "Activity");
    bell.setAttribute("title", element.getAttribute("data-label") || "Activity");
    showTitle();
    applyPrefs({
      desktop: element.getAttribute("data-desktop") === "1",
      sound: element.getAttribute("data-sound") === "1",
      dnd: element.getAttribute("data-dnd") === "1",
    }, false);
    news(readNews(element), prefs);
  }

  document.addEventListener("htmx:oobAfterSwap", function (event) {
    var target = event.detail && event.detail.target;
    if (target && target.id === "bell-news") bellAnswered();
  });

  function news(items, withPrefs) {
    if (role === "leader") notifyNew(items, withPrefs);
    else if (role === "pending") queued.push([items, withPrefs]);
    else if (channel) channel.postMessage({ type: "news", items: items, prefs: withPrefs });
  }

  // -- desktop notifications (the elected tab only) ------------------------------------------
  function notifiedThrough() {
    try {
      var kept = window.localStorage.getItem(THROUGH_KEY);
      return kept === null ? null : parseInt(kept, 10);
    } catch (error) {
      return memoryThrough;
    }
  }

  function setNotifiedThrough(id) {
    memoryThrough = id;
    try { window.localStorage.setItem(THROUGH_KEY, String(id)); } catch (error) { /* memory */ }
  }

  function notifyNew(items, withPrefs) {
    if (!items.length) return;
    var newest = Math.max.apply(null, items.map(function (item) { return item.id; }));
    var through = notifiedThrough();
    if (through === null || isNaN(through)) {
      setNotifiedThrough(newest); // the first answer in this browser: what is there is not news
      return;
    }
    var fresh = items.filter(function (item) { return item.id > through; });
    if (!fresh.length) return;
    setNotifiedThrough(newest);
    var choice = withPrefs || prefs;
    if (!choice || !choice.desktop || choice.dnd) return;
    if (!notificationsSupported() || Notification.permission !== "granted") return;
    raise(fresh);
    if (choice.sound) chime();
  }

  function raise(fresh) {
    var note;
    if (fresh.length === 1) {
      var only = fresh[0];
      note = new Notification(only.title, { body: only.body, tag: "activity-" + only.id });
      note.onclick = function () {
        window.focus();
        window.location.assign(only.url);
        note.close();
      };
      return;
    }
    var newestId = Math.max.apply(null, fresh.map(function (item) { return item.id; }));
    var lines = fresh.slice(0, 3).map(function (item) { return item.title; });
    if (fresh.length > 3) lines.push("and " + (fresh.length - 3) + " more");
    note = new Notification(fresh.length + " new activities", {
      body: lines.join("\n"),
      tag: "activity-" + newestId,
    });
    note.onclick = function () {
      window.focus();
      openDrawer();
      note.close();
    };
  }

  function chime() {
    var Context = window.AudioContext || window.webkitAudioContext;
    if (!Context) return;
    try {
      var context = new Context();
      var tone = context.createOscillator();
      var volume = context.createGain();
      tone.frequency.value = 880;
      volume.gain.value = 0.05;
      tone.connect(volume);
      volume.connect(context.destination);
      tone.onended = function () { context.close(); };
      tone.start();
      tone.stop(context.currentTime + 0.15);
    } catch (error) { /* no sound is better than an error */ }
  }

  // -- electing the tab that notifies ---------------------------------------------------------
  function electedPolling() {
    var poll = pollElement();
    if (!poll) return;
    var keep = role === "leader" && prefs && prefs.desktop && !prefs.dnd;
    var had = poll.hasAttribute("data-poll-hidden-seconds");
    if (keep) poll.setAttribute("data-poll-hidden-seconds", String(HIDDEN_POLL_SECONDS));
    else poll.removeAttribute("data-poll-hidden-seconds");
    if (!!keep !== had && document.visibilityState !== "visible") {
      document.dispatchEvent(new CustomEvent("inbox:poll-restart"));
    }
  }

  function decided(next) {
    role = next;
    document.documentElement.setAttribute("data-activity-role", next);
    var waiting = queued;
    queued = [];
    waiting.forEach(function (entry) { news(entry[0], entry[1]); });
    electedPolling();
    explainPermission();
  }

  if (channel) {
    channel.onmessage = function (event) {
      var message = event.data || {};
      if (message.type === "news" && role === "leader") notifyNew(message.items || [], message.prefs);
      else if (message.type === "prefs" && message.prefs) applyPrefs(message.prefs, false);
    };
  }

  function electWithLocks() {
    var forever = function () { return new Promise(function () {}); };
    navigator.locks.request(LOCK_NAME, { ifAvailable: true }, function (lock) {
      if (lock) {
        decided("leader");
        return forever();
      }
      decided("follower");
      // Take over when the elected tab closes.
      navigator.locks.request(LOCK_NAME, function () {
        decided("leader");
        return forever();
      });
      return null;
    });
  }

  // Without Web Locks: the elected tab says so every few seconds; a tab that hears nobody for
  // a while claims the place, and of two claimants the smaller id keeps it.
  function electWithChannel() {
    if (!channel) { decided("leader"); return; }
    var me = Math.random().toString(36).slice(2);
    var heardAt = 0;
    var elector = new BroadcastChannel(CHANNEL_NAME + "-election");
    elector.onmessage = function (event) {
      var message = event.data || {};
      if (message.type !== "leader") return;
      if (role === "leader" && message.id < me) decided("follower");
      if (message.id !== me) heardAt = Date.now();
    };
    window.setInterval(function () {
      if (role === "leader") elector.postMessage({ type: "leader", id: me });
      else if (Date.now() - heardAt > 6000) decided("leader");
    }, 2000);
    window.setTimeout(function () {
      if (role === "pending") decided(heardAt ? "follower" : "leader");
    }, 2500);
  }

  bellAnswered(); // a page drawn from the cache already carries the bell
  if (navigator.locks && typeof navigator.locks.request === "function") electWithLocks();
  else electWithChannel();
})();
