// Search as you type on the Users page: the form still works without
// script (its submit button reloads the page); with script, typing or a
// filter change fetches just the results and replaces them.
(function () {
  var form = document.getElementById("user-search");
  var results = document.getElementById("results");
  if (!form || !results) return;
  var timer = null;
  var seq = 0;
  function update() {
    var params = new URLSearchParams(new FormData(form));
    var url = form.action + "?" + params.toString();
    params.set("partial", "1");
    var mine = ++seq;
    fetch(form.action + "?" + params.toString(), {credentials: "same-origin"})
      .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
      .then(function (html) {
        if (mine !== seq) return; // an older answer arriving late
        results.innerHTML = html;
        history.replaceState(null, "", url);
      })
      .catch(function () {});
  }
  form.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(update, 200);
  });
  form.addEventListener("change", update);
})();

// The answering-rules panel answers as its inputs change: the form still
// works without script (its button reloads the tab); with script, a
// change fetches the tab and swaps in just the panel's answer.
(function () {
  var form = document.getElementById("explain-form");
  var result = document.getElementById("explain-result");
  if (!form || !result) return;
  var seq = 0;
  function update() {
    var url = form.action + "?" + new URLSearchParams(new FormData(form)).toString();
    var mine = ++seq;
    fetch(url, {credentials: "same-origin"})
      .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
      .then(function (html) {
        if (mine !== seq) return;
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("explain-result");
        if (fresh) result.innerHTML = fresh.innerHTML;
        history.replaceState(null, "", url);
      })
      .catch(function () {});
  }
  form.addEventListener("change", update);
})();
