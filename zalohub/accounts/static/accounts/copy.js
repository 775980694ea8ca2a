// Copy buttons next to the read-only URLs an admin pastes into Zalo's console.
document.addEventListener("click", async (event) => {
  const button = event.target.closest("[data-copy]");
  if (!button) return;
  const input = document.getElementById(button.dataset.copy);
  input.select();
  try {
    await navigator.clipboard.writeText(input.value);
  } catch (err) {
    document.execCommand("copy");
  }
  const label = button.textContent;
  button.textContent = "✔";
  setTimeout(() => { button.textContent = label; }, 1200);
});
