/** A tiny element builder: text goes through textContent, never innerHTML, so on-chain strings cannot inject markup. */
type Child = Node | string | number | bigint | false | null | undefined;
type Attrs = Record<string, string | number | boolean | undefined | ((event: Event) => void)>;

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === false) continue;
    if (typeof value === 'function') element.addEventListener(name.replace(/^on/, ''), value);
    else element.setAttribute(name, value === true ? '' : String(value));
  }
  append(element, children);
  return element;
}

export function append(parent: Node, children: Child[]): void {
  for (const child of children) {
    if (child === false || child === null || child === undefined) continue;
    parent.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** The three honest states every data region can be in besides its content. */
export const loading = (what: string): HTMLElement => h('p', { class: 'state loading', 'data-state': 'loading' }, `Loading ${what}…`);
export const empty = (message: string): HTMLElement => h('p', { class: 'state empty', 'data-state': 'empty' }, message);
export function failure(message: string, code: string): HTMLElement {
  return h('div', { class: 'state error', 'data-state': 'error', 'data-code': code, role: 'alert' }, h('strong', {}, 'Error: '), message);
}

export function table(headers: string[], rows: Child[][], attrs: Attrs = {}): HTMLElement {
  return h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      attrs,
      h('thead', {}, h('tr', {}, ...headers.map((header) => h('th', { scope: 'col' }, header)))),
      h('tbody', {}, ...rows.map((cells) => h('tr', {}, ...cells.map((cell, i) => h('td', { 'data-label': headers[i] ?? '' }, cell)))))
    )
  );
}

export const link = (href: string, text: string, attrs: Attrs = {}): HTMLElement => h('a', { href, ...attrs }, text);

export function badge(text: string): HTMLElement {
  return h('span', { class: `badge badge-${text.replace(/[^a-z-]/gi, '').toLowerCase()}` }, text);
}

/** A small form whose fields become the hash route's query (so filters survive refreshes and can be shared). */
export function filterForm(
  fields: Array<{ name: string; label: string; value: string; placeholder?: string; options?: string[] }>,
  onSubmit: (values: URLSearchParams) => void
): HTMLElement {
  const form = h('form', { class: 'filters' });
  for (const field of fields) {
    const input =
      field.options === undefined
        ? h('input', { name: field.name, value: field.value, placeholder: field.placeholder ?? '', autocomplete: 'off' })
        : h(
            'select',
            { name: field.name },
            ...field.options.map((option) =>
              h('option', { value: option, selected: option === field.value }, option === '' ? 'any' : option)
            )
          );
    form.append(h('label', {}, h('span', {}, field.label), input));
  }
  form.append(h('button', { type: 'submit' }, 'Apply'));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const values = new URLSearchParams();
    for (const [key, value] of new FormData(form)) if (typeof value === 'string' && value.trim() !== '') values.set(key, value.trim());
    onSubmit(values);
  });
  return form;
}
