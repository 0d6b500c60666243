// zfviz: every figure and atlas sheet opens at full resolution in a new tab (click or keyboard).
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll(".cell_output img, .bd-article img").forEach(function (img) {
    if (img.closest("a")) return;
    var a = document.createElement("a");
    a.href = img.src;
    a.target = "_blank";
    a.rel = "noopener";
    a.title = "open the figure at full resolution";
    img.parentNode.insertBefore(a, img);
    a.appendChild(img);
  });
});
