// tests/lib/schema.mjs — a small JSON Schema (2020-12 subset) checker for OpenAPI 3.1 answers:
// $ref (local), type (incl. arrays such as [string, "null"]), required, properties, items,
// enum, const, oneOf/anyOf/allOf, minItems, pattern, format date-time. Enough to check that an
// answer carries the documented fields with the documented types; not a full validator.

/** Resolves a local "#/a/b" reference in `doc`. */
export function resolveRef(doc, ref) {
  if (!ref.startsWith('#/')) throw new Error(`only local $ref supported: ${ref}`);
  return ref.slice(2).split('/').reduce((o, k) => o?.[k.replace(/~1/g, '/').replace(/~0/g, '~')], doc);
}

function typeOf(v) {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (Number.isInteger(v)) return 'integer';
  return typeof v;
}

function typeMatches(v, t) {
  const actual = typeOf(v);
  if (t === 'number') return actual === 'number' || actual === 'integer';
  return actual === t;
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

/** Returns a list of error strings (empty = valid). */
export function validate(doc, schema, value, at = '$') {
  const errors = [];
  if (!schema || typeof schema !== 'object') return errors;
  if (schema.$ref) return validate(doc, resolveRef(doc, schema.$ref), value, at);
  if (schema.type !== undefined) {
    const types = Array.isArray(schema.type) ? schema.type : [schema.type];
    if (!types.some((t) => typeMatches(value, t))) {
      errors.push(`${at}: expected type ${types.join('|')}, got ${typeOf(value)} (${JSON.stringify(value)?.slice(0, 80)})`);
      return errors;
    }
  }
  if (schema.const !== undefined && value !== schema.const) errors.push(`${at}: expected ${JSON.stringify(schema.const)}, got ${JSON.stringify(value)}`);
  if (schema.enum && !schema.enum.includes(value)) errors.push(`${at}: ${JSON.stringify(value)} not in ${JSON.stringify(schema.enum)}`);
  if (typeof value === 'string') {
    if (schema.pattern && !new RegExp(schema.pattern, 'u').test(value)) errors.push(`${at}: does not match ${schema.pattern}`);
    if (schema.format === 'date-time' && !RFC3339.test(value)) errors.push(`${at}: not RFC 3339: ${value}`);
    if (schema.minLength !== undefined && value.length < schema.minLength) errors.push(`${at}: shorter than ${schema.minLength}`);
  }
  if (Array.isArray(value)) {
    if (schema.minItems !== undefined && value.length < schema.minItems) errors.push(`${at}: fewer than ${schema.minItems} items`);
    if (schema.items) value.forEach((v, i) => errors.push(...validate(doc, schema.items, v, `${at}[${i}]`)));
  }
  if (typeOf(value) === 'object') {
    for (const r of schema.required ?? []) if (!Object.hasOwn(value, r)) errors.push(`${at}: missing required field "${r}"`);
    for (const [k, s] of Object.entries(schema.properties ?? {})) {
      if (Object.hasOwn(value, k)) errors.push(...validate(doc, s, value[k], `${at}.${k}`));
    }
  }
  if (schema.allOf) for (const s of schema.allOf) errors.push(...validate(doc, s, value, at));
  if (schema.anyOf && !schema.anyOf.some((s) => validate(doc, s, value, at).length === 0)) {
    errors.push(`${at}: matches none of anyOf`);
  }
  if (schema.oneOf) {
    const d = schema.discriminator;
    if (d && typeOf(value) === 'object' && d.mapping?.[value[d.propertyName]]) {
      errors.push(...validate(doc, { $ref: d.mapping[value[d.propertyName]] }, value, at));
    } else {
      const ok = schema.oneOf.filter((s) => validate(doc, s, value, at).length === 0).length;
      if (ok !== 1) errors.push(`${at}: matches ${ok} of oneOf (expected exactly 1)`);
    }
  }
  return errors;
}
