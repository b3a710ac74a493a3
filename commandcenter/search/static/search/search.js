// The search builder (nested groups, written into the filter document the URL carries) and
// the live feed (server-sent events). Without script the JSON box still works.
(function () {
  "use strict";

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      if (key === "text") { node.textContent = attrs[key]; } else { node.setAttribute(key, attrs[key]); }
    });
    (children || []).forEach(function (child) { if (child) { node.appendChild(child); } });
    return node;
  }

  function select(options, value, label) {
    var box = el("select", { "aria-label": label || "" });
    options.forEach(function (pair) {
      var option = el("option", { value: pair[0], text: pair[1] });
      if (String(pair[0]) === String(value)) { option.selected = true; }
      box.appendChild(option);
    });
    return box;
  }

  // -- the builder ------------------------------------------------------------------------
  function Builder(root, textarea, config) {
    this.root = root;
    this.textarea = textarea;
    this.config = config;
    var text = textarea.value.trim();
    var doc = {};
    try { doc = text ? JSON.parse(text) : {}; } catch (error) { doc = {}; }
    this.tree = this.fromDocument(doc);
    if (this.tree.type !== "group") { this.tree = { type: "group", kind: "all", not: false, children: [this.tree] }; }
    this.render();
  }

  Builder.prototype.fromDocument = function (doc, negated) {
    if (doc && doc.not) { return this.fromDocument(doc.not, !negated); }
    if (doc && (doc.all || doc.any)) {
      var kind = doc.all ? "all" : "any";
      var self = this;
      return { type: "group", kind: kind, not: !!negated,
        children: (doc[kind] || []).map(function (child) { return self.fromDocument(child); }) };
    }
    if (doc && doc.field) {
      return { type: "cond", not: !!negated, field: doc.field, op: doc.op, value: doc.value,
        include_machine: !!doc.include_machine, within_days: doc.within_days || "" };
    }
    return { type: "group", kind: "all", not: false, children: [] };
  };

  Builder.prototype.toDocument = function (node) {
    var self = this;
    var doc;
    if (node.type === "group") {
      doc = {};
      doc[node.kind] = node.children.map(function (child) { return self.toDocument(child); });
    } else {
      doc = { field: node.field, op: node.op, value: node.value };
      if (node.include_machine) { doc.include_machine = true; }
      if (node.within_days) { doc.within_days = parseInt(node.within_days, 10); }
    }
    return node.not ? { not: doc } : doc;
  };

  Builder.prototype.save = function () {
    var doc = this.toDocument(this.tree);
    doc.v = 1;
    var empty = this.tree.children.length === 0 && !this.tree.not;
    this.textarea.value = empty ? "" : JSON.stringify(doc);
  };

  Builder.prototype.newCondition = function () {
    return { type: "cond", not: false, field: "opens", op: "gte", value: 1, include_machine: false, within_days: "" };
  };

  Builder.prototype.render = function () {
    this.root.textContent = "";
    this.root.appendChild(this.renderGroup(this.tree, null));
    this.save();
  };

  Builder.prototype.renderGroup = function (group, parent) {
    var self = this, text = this.config.text;
    var kind = select([["all", text.all], ["any", text.any]], group.kind);
    kind.addEventListener("change", function () { group.kind = kind.value; self.save(); });
    var head = el("div", { "class": "group-head" }, [this.notBox(group), kind]);
    var list = el("ol", { "class": "group-children" });
    group.children.forEach(function (child) {
      list.appendChild(el("li", {}, [child.type === "group" ? self.renderGroup(child, group) : self.renderCondition(child, group)]));
    });
    var addCondition = el("button", { type: "button", "class": "small", text: text.add_condition });
    addCondition.addEventListener("click", function () { group.children.push(self.newCondition()); self.render(); });
    var addGroup = el("button", { type: "button", "class": "small", text: text.add_group });
    addGroup.addEventListener("click", function () {
      group.children.push({ type: "group", kind: "any", not: false, children: [self.newCondition()] });
      self.render();
    });
    var tools = el("div", { "class": "group-tools" }, [addCondition, addGroup, parent ? this.removeButton(group, parent) : null]);
    return el("div", { "class": "group" }, [head, list, tools]);
  };

  Builder.prototype.notBox = function (node) {
    var self = this;
    var box = el("input", { type: "checkbox" });
    box.checked = node.not;
    box.addEventListener("change", function () { node.not = box.checked; self.save(); });
    return el("label", { "class": "not" }, [box, document.createTextNode(" " + this.config.text.not)]);
  };

  Builder.prototype.removeButton = function (node, parent) {
    var self = this;
    var button = el("button", { type: "button", "class": "small danger", text: this.config.text.remove });
    button.addEventListener("click", function () {
      parent.children.splice(parent.children.indexOf(node), 1);
      self.render();
    });
    return button;
  };

  Builder.prototype.renderCondition = function (cond, parent) {
    var self = this, config = this.config, fields = config.fields;
    var spec = fields[cond.field] || fields.opens;
    var field = select(Object.keys(fields).map(function (name) { return [name, fields[name].label]; }), cond.field);
    field.addEventListener("change", function () {
      cond.field = field.value;
      var next = fields[cond.field];
      cond.op = next.ops[0];
      cond.value = next.choices.length ? next.choices[0][0] : (next.type === "integer" ? 1 : "");
      self.render();
    });
    var op = select(spec.ops.map(function (name) { return [name, config.ops[name] || name]; }), cond.op);
    op.addEventListener("change", function () {
      cond.op = op.value;
      if (cond.op === "between") { cond.value = [0, 1]; }
      else if (cond.op === "within") { cond.value = config.presets[0][0]; }
      else if (cond.op === "is_set") { cond.value = true; }
      else if (cond.op === "in") { cond.value = spec.choices.length ? [spec.choices[0][0]] : []; }
      else if (Array.isArray(cond.value)) { cond.value = cond.value[0]; }
      self.render();
    });
    var parts = [this.notBox(cond), field, op, this.valueInput(cond, spec)];
    if (spec.options.length) {
      if (spec.options.indexOf("include_machine") >= 0) {
        var machine = el("input", { type: "checkbox" });
        machine.checked = cond.include_machine;
        machine.addEventListener("change", function () { cond.include_machine = machine.checked; self.save(); });
        parts.push(el("label", { "class": "option" }, [machine, document.createTextNode(" " + config.text.include_machine)]));
      }
      var days = el("input", { type: "number", min: "1", max: "3650", "class": "days", value: cond.within_days || "", "aria-label": config.text.within_days });
      days.addEventListener("input", function () { cond.within_days = days.value; self.save(); });
      parts.push(el("label", { "class": "option" }, [days, document.createTextNode(" " + config.text.within_days)]));
    }
    parts.push(this.removeButton(cond, parent));
    return el("div", { "class": "condition", "data-field": cond.field }, parts);
  };

  Builder.prototype.valueInput = function (cond, spec) {
    var self = this;
    function bind(input, read) {
      input.addEventListener("input", function () { cond.value = read(); self.save(); });
      input.addEventListener("change", function () { cond.value = read(); self.save(); });
      return input;
    }
    function scalar(value) {
      if (spec.choices.length) { return select(spec.choices, value); }
      var type = spec.type === "integer" ? "number" : (/_at$/.test(cond.field) ? "date" : "text");
      return el("input", { type: type, value: value === undefined || value === null ? "" : value, "class": "value" });
    }
    function typed(raw) { return spec.type === "integer" ? parseInt(raw || "0", 10) : raw; }
    if (cond.op === "within") {
      return bind(select(this.config.presets, cond.value), function () { return this.value; });
    }
    if (cond.op === "is_set") {
      var set = select([["true", "✓"], ["false", "✗"]], String(cond.value));
      return bind(set, function () { return set.value === "true"; });
    }
    if (cond.op === "between") {
      var values = Array.isArray(cond.value) ? cond.value : [cond.value, cond.value];
      var low = scalar(values[0]), high = scalar(values[1]);
      var read = function () { return [typed(low.value), typed(high.value)]; };
      bind(low, read); bind(high, read);
      return el("span", { "class": "between" }, [low, document.createTextNode(" – "), high]);
    }
    if (cond.op === "in") {
      var list = Array.isArray(cond.value) ? cond.value : [cond.value];
      if (spec.choices.length) {
        var many = select(spec.choices, null);
        many.multiple = true;
        var chosen = list.map(String);
        Array.prototype.forEach.call(many.options, function (option) { option.selected = chosen.indexOf(option.value) >= 0; });
        return bind(many, function () {
          return Array.prototype.filter.call(many.options, function (o) { return o.selected; }).map(function (o) { return typed(o.value); });
        });
      }
      var joined = el("input", { type: "text", value: list.join(", "), "class": "value" });
      return bind(joined, function () {
        return joined.value.split(",").map(function (part) { return typed(part.trim()); }).filter(function (part) { return part !== ""; });
      });
    }
    var input = scalar(cond.value);
    return bind(input, function () { return typed(input.value); });
  };

  // -- the live feed ----------------------------------------------------------------------
  function LiveFeed(section) {
    var textNode = document.getElementById("feed-text");
    this.text = textNode ? JSON.parse(textNode.textContent) : {};
    this.section = section;
    this.items = section.querySelector("[data-feed-items]");
    this.state = section.querySelector("[data-feed-state]");
    this.savedId = section.getAttribute("data-saved-search");
    this.rowsUrl = section.getAttribute("data-rows-url");
    var source = new EventSource(section.getAttribute("data-feed"));
    var self = this;
    source.addEventListener("open", function () { self.state.textContent = self.text.live || "live"; section.classList.add("is-live"); });
    source.addEventListener("error", function () { self.state.textContent = self.text.offline || ""; section.classList.remove("is-live"); });
    ["engagement", "joined", "left"].forEach(function (kind) {
      source.addEventListener(kind, function (event) { self.show(kind, JSON.parse(event.data)); });
    });
  }

  LiveFeed.prototype.show = function (kind, data) {
    var empty = this.items.querySelector(".empty");
    if (empty) { empty.remove(); }
    var who = data.email.to, what = data.email.subject;
    var line;
    if (kind === "engagement") {
      line = who + " " + (this.text[data.kind] || data.kind) + " “" + what + "”";
    } else {
      line = who + " " + this.text[kind] + " " + data.search.name;
    }
    var item = el("li", { "class": "feed-" + kind + (data.machine ? " machine" : ""), "data-kind": data.kind || kind }, [
      el("time", { text: new Date(data.at).toLocaleTimeString() }),
      document.createTextNode(" " + line),
      data.machine ? el("span", { "class": "badge", title: data.reason || "", text: this.text.machine }) : null
    ]);
    if (data.machine) { this.items.appendChild(item); } else { this.items.insertBefore(item, this.items.firstChild); }
    if (kind !== "engagement" && this.savedId && String(data.search.id) === this.savedId) { this.refreshRows(); }
    this.refreshCount(kind, data);
  };

  LiveFeed.prototype.refreshRows = function () {
    if (!this.rowsUrl || !window.htmx) { return; }
    window.htmx.ajax("GET", this.rowsUrl, { target: "#results", swap: "outerHTML" }).then(function () {
      var results = document.getElementById("results");
      var total = document.querySelector("[data-total]");
      if (results && total) { total.textContent = results.getAttribute("data-results-total"); }
    });
  };

  LiveFeed.prototype.refreshCount = function (kind, data) {
    if (kind === "engagement") { return; }
    var count = document.querySelector('[data-saved-count="' + data.search.id + '"]');
    if (count) { document.body.dispatchEvent(new Event("saved-search-changed")); }
  };

  document.addEventListener("DOMContentLoaded", function () {
    var root = document.getElementById("builder");
    var config = document.getElementById("search-fields");
    if (root && config) {
      var builder = new Builder(root, document.getElementById("filter-document"), JSON.parse(config.textContent));
      document.getElementById("builder-form").addEventListener("submit", function () { builder.save(); });
    }
    var feed = document.querySelector("[data-feed]");
    if (feed && window.EventSource) { new LiveFeed(feed); }
  });
})();
