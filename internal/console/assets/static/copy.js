// The one script of keyward's pages: a button that copies the secret shown
// on a one-time link. Everything else works without JavaScript.
document.querySelectorAll("button[data-copy]").forEach(function (b) {
  b.hidden = false;
  b.addEventListener("click", function () {
    var el = document.getElementById(b.getAttribute("data-copy"));
    if (!el || !navigator.clipboard) { return; }
    navigator.clipboard.writeText(el.textContent.trim()).then(function () {
      b.textContent = "Copied";
    }, function () {
      b.textContent = "Copy failed: select the text and copy it";
    });
  });
});
