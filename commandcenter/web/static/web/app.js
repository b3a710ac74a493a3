// Small progressive enhancements; every page works without them.
document.documentElement.classList.add("js");

document.addEventListener("change", function (event) {
  var target = event.target;
  if (target.matches("select[data-autosubmit]")) {
    target.form.submit();
  }
  if (target.matches("input[data-select-all]")) {
    var boxes = target.form.querySelectorAll("input[type=checkbox][name=ids], input[type=checkbox][name=person]");
    boxes.forEach(function (box) { box.checked = target.checked; });
  }
  if (target.matches("select[data-merge-menu]")) {
    if (target.value) { insertMergeField(target.closest("[data-editor]"), target.value); }
    target.value = "";
  }
});

// The phone header: one button opens the menu (Emails, People, Settings, Sign out…).
document.addEventListener("click", function (event) {
  var toggle = event.target.closest(".menu-toggle");
  if (!toggle) { return; }
  var header = toggle.closest("header");
  var open = header.classList.toggle("open");
  toggle.setAttribute("aria-expanded", open ? "true" : "false");
});

// -- The editor: merge fields where the rep was typing, plain text made from the HTML. --

var lastFocused = null;
document.addEventListener("focusin", function (event) {
  var target = event.target;
  if (target.closest("[data-editor]") && target.matches("trix-editor, input[type=text], textarea")) {
    lastFocused = target;
  }
});

function insertMergeField(editor, name) {
  var text = "{{" + name + "}}";
  var target = lastFocused && editor.contains(lastFocused) ? lastFocused : editor.querySelector("trix-editor");
  if (!target) { return; }
  if (target.matches("trix-editor")) {
    target.editor.insertString(text);
    target.focus();
    return;
  }
  var start = target.selectionStart || 0, end = target.selectionEnd || 0;
  target.value = target.value.slice(0, start) + text + target.value.slice(end);
  target.selectionStart = target.selectionEnd = start + text.length;
  target.dispatchEvent(new Event("input", { bubbles: true }));
  target.focus();
}

function csrfToken() {
  try { return JSON.parse(document.body.getAttribute("hx-headers"))["X-CSRFToken"]; }
  catch (error) { return ""; }
}

function follows(editor) {
  var flag = editor.querySelector("input[name=text_follows]");
  return flag && flag.value === "True";
}

function setFollows(editor, on) {
  var flag = editor.querySelector("input[name=text_follows]");
  if (flag) { flag.value = on ? "True" : "False"; }
}

var remakeTimers = new WeakMap();
function remakePlainText(editor) {
  clearTimeout(remakeTimers.get(editor));
  remakeTimers.set(editor, setTimeout(function () {
    var html = editor.querySelector("input[name=body_html]").value;
    var body = new FormData();
    body.append("body_html", html);
    fetch(editor.dataset.plainTextUrl, {
      method: "POST", body: body, credentials: "same-origin",
      headers: { "X-CSRFToken": csrfToken() }
    }).then(function (response) {
      return response.ok ? response.text() : Promise.reject(response.status);
    }).then(function (text) {
      if (follows(editor)) { editor.querySelector("textarea[data-plain-text]").value = text; }
    }).catch(function () { /* the server makes it on save if it stays empty */ });
  }, 300));
}

document.addEventListener("trix-change", function (event) {
  var editor = event.target.closest("[data-editor]");
  if (editor && follows(editor)) { remakePlainText(editor); }
});

document.addEventListener("input", function (event) {
  var editor = event.target.closest("[data-editor]");
  if (editor && event.target.matches("textarea[data-plain-text]") && event.isTrusted) {
    setFollows(editor, false);  // written by hand now: it no longer follows the HTML
  }
});

document.addEventListener("click", function (event) {
  var button = event.target.closest("[data-remake-text]");
  if (!button) { return; }
  var editor = button.closest("[data-editor]");
  setFollows(editor, true);
  remakePlainText(editor);
});

// No attachments: an email's images come from links, not uploads.
document.addEventListener("trix-file-accept", function (event) { event.preventDefault(); });

// The toolbar's words in the rep's language.
document.addEventListener("trix-initialize", function (event) {
  var element = event.target, labels = {};
  try { labels = JSON.parse(element.dataset.labels || "{}"); } catch (error) { return; }
  var toolbar = element.toolbarElement;
  Object.keys(labels).forEach(function (key) {
    toolbar.querySelectorAll("[data-trix-attribute=" + key + "], [data-trix-action=" + key + "]").forEach(function (button) {
      button.title = labels[key];
      button.textContent = labels[key];
    });
  });
  var url = toolbar.querySelector("input[name=href]");
  if (url && labels.urlPlaceholder) { url.placeholder = labels.urlPlaceholder; }
  toolbar.querySelectorAll("input[data-trix-method=setAttribute]").forEach(function (input) { if (labels.link) { input.value = labels.link; } });
  toolbar.querySelectorAll("input[data-trix-method=removeAttribute]").forEach(function (input) { if (labels.unlink) { input.value = labels.unlink; } });
});
