// Small progressive enhancements; every page works without them.
document.addEventListener("change", function (event) {
  var target = event.target;
  if (target.matches("select[data-autosubmit]")) {
    target.form.submit();
  }
  if (target.matches("input[data-select-all]")) {
    var boxes = target.form.querySelectorAll("input[type=checkbox][name=ids], input[type=checkbox][name=person]");
    boxes.forEach(function (box) { box.checked = target.checked; });
  }
});
