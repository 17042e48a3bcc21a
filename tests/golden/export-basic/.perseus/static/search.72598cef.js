// The search page's script: filters the posts listed by the page as the visitor types.
// perseus mounts it on the first load and after each client-side navigation to the page,
// and calls the function it returns when the visitor leaves.
export function mount(root, page) {
  const form = root.querySelector("form.search");
  const input = root.querySelector("#search-query");
  const count = root.querySelector("#search-count");
  const items = [...root.querySelectorAll("#search-results li")];
  const total = page.state.posts.length;

  function filter() {
    const query = input.value.trim().toLowerCase();
    let shown = 0;
    for (const item of items) {
      const match = item.dataset.title.includes(query);
      item.hidden = !match;
      if (match) shown += 1;
    }
    count.textContent = query ? `${shown} of ${total} posts` : `${total} posts`;
  }

  const submit = (event) => event.preventDefault();  // filtering is live: nothing to send
  form.hidden = false;  // the filter only works with this script: shown by it
  input.addEventListener("input", filter);
  form.addEventListener("submit", submit);
  filter();
  return () => {
    input.removeEventListener("input", filter);
    form.removeEventListener("submit", submit);
  };
}
