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

  function pollNow() {
    var element = pollElement();
    if (!element || document.visibilityState !== "visible" || !window.htmx) return;
    window.htmx.trigger(element, "inbox:poll");
  }

  function stopPolling() {
    if (timer !== null) window.clearInterval(timer);
    timer = null;
  }

  function startPolling() {
    stopPolling();
    var element = pollElement();
    if (!element || document.visibilityState !== "visible") return;
    var seconds = parseFloat(element.getAttribute("data-poll-seconds")) || 10;
    pollNow();
    timer = window.setInterval(pollNow, Math.max(1, seconds) * 1000);
  }

  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") startPolling();
    else stopPolling();
  });
  // "Poll now" for whoever needs fresh counts at once (after a write, or a test).
  document.addEventListener("inbox:poll-now", pollNow);

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
    state.textContent = event.detail.successful ? "Draft kept" : "Draft not saved; keep this tab open";
  });

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", startPolling);
  } else {
    startPolling();
  }
})();
