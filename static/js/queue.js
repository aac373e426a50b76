// Keyboard for the alert queue: j/k move, Enter opens, a assigns to me, x selects, / searches.
// The cursor survives HTMX refreshes of the results (it is kept by alert id).
(function () {
  var cursorId = null;

  function rows() {
    return Array.prototype.slice.call(document.querySelectorAll("#queue tbody tr[data-href]"));
  }

  function current() {
    return cursorId ? document.getElementById(cursorId) : null;
  }

  function setCursor(row) {
    var old = current();
    if (old) old.classList.remove("cursor");
    if (!row) { cursorId = null; return; }
    row.classList.add("cursor");
    cursorId = row.id;
    row.scrollIntoView({ block: "nearest" });
  }

  function move(step) {
    var list = rows();
    if (!list.length) return;
    var index = list.indexOf(current());
    var next = index < 0 ? 0 : Math.min(Math.max(index + step, 0), list.length - 1);
    setCursor(list[next]);
  }

  function typing(target) {
    var tag = (target && target.tagName) || "";
    return tag === "INPUT" || tag === "SELECT" || tag === "TEXTAREA" || target.isContentEditable;
  }

  document.addEventListener("keydown", function (evt) {
    if (evt.ctrlKey || evt.metaKey || evt.altKey || typing(evt.target)) return;
    var row = current();
    switch (evt.key) {
      case "j": move(1); break;
      case "k": move(-1); break;
      case "Enter":
        if (row) window.location.href = row.dataset.href; else return;
        break;
      case "a":
        if (row && row.dataset.assign && window.htmx) {
          htmx.ajax("POST", row.dataset.assign, {
            target: "#" + row.id, swap: "outerHTML", values: { assignee: "me", next: "row" }
          });
        } else return;
        break;
      case "x":
        if (row) {
          var box = row.querySelector("input[type=checkbox]");
          if (box) box.checked = !box.checked;
        } else return;
        break;
      case "/":
        var search = document.querySelector("#queue-filters input[name=q]");
        if (search) search.focus(); else return;
        break;
      default: return;
    }
    evt.preventDefault();
  });

  document.addEventListener("click", function (evt) {
    var all = evt.target.closest && evt.target.closest("[data-select-all]");
    if (!all) return;
    document.querySelectorAll("#queue tbody input[name=ids]").forEach(function (box) {
      box.checked = all.checked;
    });
  });

  document.addEventListener("htmx:afterSettle", function () {
    var row = current();
    if (row) row.classList.add("cursor");
  });
})();
