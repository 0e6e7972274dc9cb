declare module 'virtual:moby-dick' {
  /** The bundled default corpus: the first chapters of Moby-Dick. */
  export const excerpt: string;
  export const excerptName: string;
  export const bookName: string;
  /** The whole book's characters, sorted by code point (the CLI's CharTokenizer vocabulary). */
  export const vocabulary: string[];
}
