/* A form generated from a JSON Schema (types, enums, required, nested objects, arrays);
 * anything else is a JSON textarea. Labels and help come from the upstream: text only. */
'use strict';

(function () {
  const { el } = window.MCPGW;

  function schemaType(schema) {
    let t = schema && schema.type;
    if (Array.isArray(t)) t = t.find((x) => x !== 'null');
    if (!t && schema && schema.properties) t = 'object';
    return t;
  }

  // Returns {node, get}; get() gives the value or undefined (left empty); throws on bad input.
  function field(schema, name, required, path) {
    schema = schema || {};
    const type = schemaType(schema);
    const id = 'arg-' + path.replace(/[^A-Za-z0-9_-]/g, '_');
    const label = el('span', { class: 'field-name', text: name + (required ? ' *' : '') });
    const help = schema.description ? el('small', { class: 'help', text: schema.description }) : null;
    const wrap = (control) => el('div', { class: 'field', 'data-path': path }, [el('label', { for: id }, [label]), control, ...(help ? [help] : [])]);

    if (Array.isArray(schema.enum)) {
      const select = el('select', { id, name: path, required }, [
        ...(required ? [] : [el('option', { value: '', text: '(unset)' })]),
        ...schema.enum.map((v, i) => el('option', { value: String(i), text: JSON.stringify(v) })),
      ]);
      if (schema.default !== undefined) {
        const at = schema.enum.findIndex((v) => JSON.stringify(v) === JSON.stringify(schema.default));
        if (at >= 0) select.value = String(at);
      }
      return { node: wrap(select), get: () => (select.value === '' ? undefined : schema.enum[Number(select.value)]) };
    }
    if (type === 'boolean') {
      const select = el('select', { id, name: path }, [
        el('option', { value: '', text: '(unset)' }), el('option', { value: 'true', text: 'true' }), el('option', { value: 'false', text: 'false' }),
      ]);
      if (typeof schema.default === 'boolean') select.value = String(schema.default);
      return { node: wrap(select), get: () => (select.value === '' ? undefined : select.value === 'true') };
    }
    if (type === 'integer' || type === 'number') {
      const input = el('input', { id, name: path, type: 'number', step: type === 'integer' ? '1' : 'any', required });
      if (typeof schema.minimum === 'number') input.min = String(schema.minimum);
      if (typeof schema.maximum === 'number') input.max = String(schema.maximum);
      if (typeof schema.default === 'number') input.value = String(schema.default);
      return {
        node: wrap(input),
        get: () => {
          if (input.value.trim() === '') return undefined;
          const n = Number(input.value);
          if (!Number.isFinite(n) || (type === 'integer' && !Number.isInteger(n))) throw new Error(path + ': expected ' + type);
          return n;
        },
      };
    }
    if (type === 'string') {
      const long = !schema.maxLength || schema.maxLength > 200;
      const input = long ? el('textarea', { id, name: path, rows: 2, required }) : el('input', { id, name: path, required });
      if (typeof schema.default === 'string') input.value = schema.default;
      return { node: wrap(input), get: () => (input.value === '' ? undefined : input.value) };
    }
    if (type === 'object' && schema.properties) {
      const req = new Set(schema.required || []);
      const parts = Object.entries(schema.properties).map(([k, sub]) => [k, field(sub, k, req.has(k), path + '.' + k)]);
      const box = el('fieldset', { class: 'object', 'data-path': path }, [el('legend', { text: name + (required ? ' *' : '') }), ...(help ? [help] : []), ...parts.map(([, p]) => p.node)]);
      return {
        node: box,
        get: () => {
          const out = {};
          for (const [k, p] of parts) {
            const v = p.get();
            if (v !== undefined) out[k] = v;
            else if (req.has(k)) throw new Error(path + '.' + k + ' is required');
          }
          return Object.keys(out).length || required ? out : undefined;
        },
      };
    }
    if (type === 'array' && schema.items && !Array.isArray(schema.items)) {
      const items = [];
      const list = el('div', { class: 'array-items' });
      const add = el('button', { type: 'button', class: 'add-item', text: 'Add item' });
      const box = el('fieldset', { class: 'array', 'data-path': path }, [el('legend', { text: name + (required ? ' *' : '') }), ...(help ? [help] : []), list, add]);
      add.addEventListener('click', () => {
        const item = field(schema.items, name + '[' + items.length + ']', false, path + '.' + items.length);
        const row = el('div', { class: 'array-item' }, [item.node]);
        const entry = { item, row };
        row.append(el('button', { type: 'button', text: 'Remove', onclick: () => { items.splice(items.indexOf(entry), 1); row.remove(); box.dispatchEvent(new Event('input', { bubbles: true })); } }));
        items.push(entry);
        list.append(row);
        box.dispatchEvent(new Event('input', { bubbles: true }));
      });
      return {
        node: box,
        get: () => {
          const values = items.map((e) => e.item.get()).filter((v) => v !== undefined);
          return values.length || required ? values : undefined;
        },
      };
    }
    // Anything else (no type, anyOf, $ref, free-form objects): JSON typed by hand.
    const area = el('textarea', { id, name: path, rows: 3, class: 'json', placeholder: 'JSON', required });
    if (schema.default !== undefined) area.value = JSON.stringify(schema.default);
    return {
      node: wrap(area),
      get: () => {
        if (area.value.trim() === '') return undefined;
        try { return JSON.parse(area.value); } catch (e) { throw new Error(path + ': not valid JSON'); }
      },
    };
  }

  window.MCPGW.lib.schemaForm = Object.freeze({ field });
})();
