/**
 * `text` with every occurrence of each secret value replaced by `***`, longest first (so a value
 * that contains another is hidden whole). Values shorter than 4 characters are left alone: they
 * cannot be told apart from ordinary text ("1", "yes") and hiding them would garble the message.
 */
export function redact(text: string, secretValues: Iterable<string>): string {
  const values = [...new Set(secretValues)].filter((v) => v.length >= 4).sort((a, b) => b.length - a.length);
  let out = text;
  for (const value of values) out = out.split(value).join("***");
  return out;
}
