/** The classic billion laughs under `key`: 9 levels of 9 aliases, 1 KB of text that expands to 9^9 strings. */
export function billionLaughs(key: string): string {
  const levels = "abcdefghi".split("");
  const lines = [`${key}: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]`];
  for (let i = 1; i < levels.length; i++)
    lines.push(
      `${levels[i]}: &${levels[i]} [${Array(9)
        .fill(`*${levels[i - 1]}`)
        .join(",")}]`,
    );
  return lines.join("\n");
}
