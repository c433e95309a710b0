// js-yaml ships no types; the tests only load YAML into plain data.
declare module 'js-yaml' {
  export function load(text: string): unknown;
}
