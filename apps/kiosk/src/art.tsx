// Inline SVG food illustrations for the kiosk, drawn here so the kiosk needs no
// external assets: one per menu category (burger, pizza, salad, fries, dessert,
// drink, hot drink, kids meal), plus the store's wave logo and the eat-here /
// take-away pictures. Used when a menu item has no image of its own.
import type { ReactElement } from "react";

export type ArtKind = "burger" | "pizza" | "salad" | "fries" | "dessert" | "drink" | "hot" | "kids" | "plate";

/** Which picture suits an item: by keywords in its name first, then by its category. */
export function artFor(category: string, itemName = ""): ArtKind {
  const n = itemName.toLowerCase();
  if (/\bfries\b|onion rings/.test(n)) return "fries";
  if (/drip coffee|hot tea/.test(n)) return "hot";
  const c = category.toLowerCase();
  if (c.includes("burger")) return "burger";
  if (c.includes("pizza")) return "pizza";
  if (c.includes("salad") || c.includes("side")) return "salad";
  if (c.includes("dessert") || c.includes("sweet")) return "dessert";
  if (c.includes("drink") || c.includes("beverage")) return "drink";
  if (c.includes("kid")) return "kids";
  return "plate";
}

const shadow = <ellipse cx="120" cy="160" rx="78" ry="8" fill="#000" opacity="0.14" />;

const ART: Record<Exclude<ArtKind, "burger" | "pizza" | "drink">, ReactElement> = {
  salad: (
    <>
      {shadow}
      <ellipse cx="120" cy="96" rx="82" ry="16" fill="#2b6f68" />
      {[
        [60, 88, 20, "#3f9a45"],
        [88, 76, 24, "#6cc04f"],
        [120, 70, 26, "#3f9a45"],
        [152, 76, 24, "#79c95a"],
        [180, 88, 20, "#4aa84a"],
        [104, 90, 18, "#8dd36a"],
        [140, 90, 18, "#5bb548"],
      ].map(([x, y, r, c]) => (
        <circle key={`${x}-${y}`} cx={x} cy={y} r={r} fill={c as string} />
      ))}
      <circle cx="92" cy="70" r="10" fill="#e53935" />
      <circle cx="150" cy="66" r="10" fill="#e53935" />
      <circle cx="125" cy="84" r="9" fill="#e53935" />
      <circle cx="70" cy="84" r="9" fill="#d9f0b0" stroke="#4c8c2b" strokeWidth="3" />
      <circle cx="170" cy="82" r="9" fill="#d9f0b0" stroke="#4c8c2b" strokeWidth="3" />
      <rect x="110" y="56" width="12" height="12" rx="2" fill="#d9a25b" transform="rotate(20 116 62)" />
      <path d="M36 96 H204 Q200 152 120 154 Q40 152 36 96 Z" fill="#f5f1e8" />
      <path d="M44 118 H196" stroke="#2f8f83" strokeWidth="7" />
    </>
  ),
  fries: (
    <>
      {shadow}
      {[
        [84, 30, -12],
        [98, 20, -6],
        [112, 26, -2],
        [126, 16, 4],
        [140, 24, 8],
        [154, 32, 14],
        [106, 40, 0],
        [132, 38, 6],
      ].map(([x, y, r]) => (
        <rect
          key={`${x}-${y}`}
          x={x}
          y={y}
          width="13"
          height="80"
          rx="3"
          fill="#f7c948"
          stroke="#dea32a"
          strokeWidth="2"
          transform={`rotate(${r} ${x + 6} ${y + 40})`}
        />
      ))}
      <path d="M70 74 Q120 92 170 74 L156 156 L84 156 Z" fill="#d83a2e" />
      <path d="M70 74 Q120 92 170 74" stroke="#b32a20" strokeWidth="4" fill="none" />
      <path d="M120 104 l7 14 15 2 -11 10 3 15 -14 -7 -14 7 3 -15 -11 -10 15 -2 Z" fill="#fff3c4" />
    </>
  ),
  dessert: (
    <>
      {shadow}
      <rect x="113" y="128" width="14" height="24" fill="#b7dbe9" />
      <ellipse cx="120" cy="154" rx="36" ry="7" fill="#b7dbe9" />
      <circle cx="94" cy="86" r="24" fill="#fbf1e1" />
      <circle cx="146" cy="86" r="24" fill="#f3a6c4" />
      <circle cx="120" cy="66" r="26" fill="#7a4a2c" />
      <path d="M98 60 Q108 76 116 62 Q124 80 132 62 Q140 74 144 58 Q132 40 120 40 Q104 42 98 60 Z" fill="#4e2a16" />
      <path d="M64 92 H176 Q172 132 120 136 Q68 132 64 92 Z" fill="#d6eef7" opacity="0.95" />
      <path d="M72 100 Q120 112 168 100" stroke="#ffffff" strokeWidth="5" fill="none" opacity="0.8" />
      <path d="M122 40 Q128 20 142 14" stroke="#3c7a2f" strokeWidth="3.5" fill="none" strokeLinecap="round" />
      <circle cx="120" cy="40" r="10" fill="#d0213a" />
      <circle cx="116" cy="36" r="3" fill="#f06a7e" />
    </>
  ),
  hot: (
    <>
      {shadow}
      <ellipse cx="118" cy="152" rx="66" ry="10" fill="#eef2f5" />
      <path d="M66 70 H170 L162 138 Q158 152 140 152 H96 Q78 152 74 138 Z" fill="#2f8f83" />
      <path d="M168 84 Q196 84 194 108 Q192 130 162 128" stroke="#2f8f83" strokeWidth="10" fill="none" />
      <ellipse cx="118" cy="70" rx="52" ry="9" fill="#5a3420" />
      {[96, 118, 140].map((x) => (
        <path
          key={x}
          d={`M${x} 56 q-10 -12 0 -24 q10 -12 0 -24`}
          stroke="#ffffff"
          strokeWidth="5"
          strokeLinecap="round"
          fill="none"
          opacity="0.85"
        />
      ))}
    </>
  ),
  kids: (
    <>
      {shadow}
      <path d="M92 74 Q92 44 120 44 Q148 44 148 74" stroke="#e53935" strokeWidth="9" fill="none" />
      <rect x="64" y="70" width="112" height="84" rx="10" fill="#ffb300" />
      <path d="M64 70 H176 L166 92 H74 Z" fill="#ffca28" />
      <circle cx="102" cy="112" r="7" fill="#3b2a1a" />
      <circle cx="138" cy="112" r="7" fill="#3b2a1a" />
      <path d="M98 128 Q120 148 142 128" stroke="#3b2a1a" strokeWidth="6" fill="none" strokeLinecap="round" />
      <circle cx="92" cy="126" r="6" fill="#ff8a80" opacity="0.8" />
      <circle cx="148" cy="126" r="6" fill="#ff8a80" opacity="0.8" />
      <path d="M196 30 l5 10 11 1.5 -8 7.5 2 11 -10 -5.5 -10 5.5 2 -11 -8 -7.5 11 -1.5 Z" fill="#ffffff" />
      <path d="M44 48 l4 8 9 1.2 -6.5 6 1.6 9 -8 -4.4 -8 4.4 1.6 -9 -6.5 -6 9 -1.2 Z" fill="#ffffff" />
    </>
  ),
  plate: (
    <>
      {shadow}
      <circle cx="120" cy="92" r="60" fill="#ffffff" />
      <circle cx="120" cy="92" r="44" fill="#eef2f5" />
      <rect x="40" y="44" width="8" height="100" rx="4" fill="#7b8a97" />
      <rect x="192" y="44" width="8" height="100" rx="4" fill="#7b8a97" />
    </>
  ),
};

/** A burger; cheese, toppings and patties follow the item's name. */
function Burger({ name }: { name: string }) {
  const n = name.toLowerCase();
  const cheese = n.includes("blue") ? "#eef2e6" : n.includes("swiss") || n.includes("gruy") ? "#f6e3a1" : "#f7c331";
  const double = n.includes("double");
  const top = double ? 70 : 84;
  return (
    <>
      {shadow}
      <rect x="50" y="126" width="140" height="28" rx="14" fill="#d9893b" />
      <rect x="42" y="106" width="156" height="26" rx="13" fill="#6b3a1e" />
      {double && <rect x="42" y="84" width="156" height="26" rx="13" fill="#7a4322" />}
      <path
        d={`M44 ${top + 17} H196 L190 ${top + 30} L176 ${top + 24} L162 ${top + 40} L148 ${top + 24} L122 ${top + 34} L98 ${top + 24} L84 ${top + 38} L68 ${top + 24} L52 ${top + 32} Z`}
        fill={cheese}
      />
      {n.includes("bbq") && (
        <path
          d={`M48 ${top + 14} q12 -8 24 0 t24 0 t24 0 t24 0 t24 0 t24 0`}
          stroke="#9c2f22"
          strokeWidth="7"
          fill="none"
        />
      )}
      {n.includes("mushroom") &&
        [70, 100, 130, 160].map((x) => <ellipse key={x} cx={x} cy={top + 16} rx="13" ry="7" fill="#8d6e63" />)}
      <path
        d={`M36 ${top + 14} Q46 ${top + 2} 56 ${top + 12} T76 ${top + 12} T96 ${top + 12} T116 ${top + 12} T136 ${top + 12} T156 ${top + 12} T176 ${top + 12} T196 ${top + 12} Q204 ${top + 8} 204 ${top + 16} L204 ${top + 20} L36 ${top + 20} Z`}
        fill="#58b046"
      />
      {n.includes("firecracker") ? (
        [64, 92, 120, 148, 176].map((x) => (
          <circle key={x} cx={x} cy={top + 6} r="8" fill="#3e8e2f" stroke="#a5d66f" strokeWidth="3" />
        ))
      ) : (
        <rect x="50" y={top} width="140" height="12" rx="6" fill="#e2452f" />
      )}
      <path d={`M44 ${top + 4} Q44 ${top - 54} 120 ${top - 56} Q196 ${top - 54} 196 ${top + 4} Z`} fill="#e8a04b" />
      <path
        d={`M64 ${top - 22} Q72 ${top - 44} 104 ${top - 50}`}
        stroke="#f7c98a"
        strokeWidth="7"
        strokeLinecap="round"
        fill="none"
      />
      {[
        [92, -32, -20],
        [118, -40, 10],
        [144, -30, 30],
        [106, -16, -5],
        [136, -12, 20],
        [162, -14, 45],
        [80, -10, -35],
      ].map(([x, dy, r]) => (
        <ellipse
          key={`${x}-${dy}`}
          cx={x}
          cy={top + dy}
          rx="5"
          ry="2.6"
          fill="#fff4d8"
          transform={`rotate(${r} ${x} ${top + dy})`}
        />
      ))}
    </>
  );
}

/** Topping colours and sauce for a pizza, from its name. */
function pizzaStyle(n: string): { sauce: string; cheese: string; toppings: string[]; basil: boolean } {
  if (n.includes("nutella")) return { sauce: "#5d3a1a", cheese: "#6b4423", toppings: ["#e53935"], basil: false };
  if (n.includes("margherita")) return { sauce: "#c8402a", cheese: "#fbe7a6", toppings: ["#fffaf0"], basil: true };
  if (n.includes("white"))
    return { sauce: "#f3e6c8", cheese: "#fff6dc", toppings: ["#fffdf6", "#e9d9a8"], basil: true };
  if (n.includes("bbq")) return { sauce: "#7a3b1c", cheese: "#f8d877", toppings: ["#9a6a3a", "#7b2d6b"], basil: true };
  if (n.includes("hawaii"))
    return { sauce: "#c8402a", cheese: "#f8d877", toppings: ["#ffd54f", "#f29ca3"], basil: false };
  if (n.includes("veggie") || n.includes("garden"))
    return { sauce: "#c8402a", cheese: "#f8d877", toppings: ["#4f9a3a", "#2b2b2b", "#8d6e63"], basil: false };
  if (n.includes("autumn") || n.includes("harvest"))
    return { sauce: "#e08a3c", cheese: "#f8d877", toppings: ["#8d5a2b", "#e07b2a"], basil: true };
  if (n.includes("supreme"))
    return {
      sauce: "#c8402a",
      cheese: "#f8d877",
      toppings: ["#b3261e", "#4f9a3a", "#2b2b2b", "#8d5a2b"],
      basil: false,
    };
  return { sauce: "#c8402a", cheese: "#f8d877", toppings: ["#b3261e"], basil: !n.includes("meat") };
}

function Pizza({ name }: { name: string }) {
  const st = pizzaStyle(name.toLowerCase());
  return (
    <>
      {shadow}
      <circle cx="120" cy="90" r="72" fill="#dea24f" />
      <circle cx="120" cy="90" r="62" fill={st.sauce} />
      <path
        d="M120 32 Q150 30 168 52 Q184 72 178 96 Q176 124 152 140 Q128 152 100 146 Q72 138 64 112 Q56 86 70 62 Q88 34 120 32 Z"
        fill={st.cheese}
      />
      {[0, 60, 120, 180, 240, 300].map((a) => (
        <line
          key={a}
          x1="120"
          y1="90"
          x2={120 + 72 * Math.cos((a * Math.PI) / 180)}
          y2={90 + 72 * Math.sin((a * Math.PI) / 180)}
          stroke="#c98b3d"
          strokeWidth="2.5"
        />
      ))}
      {[
        [96, 62],
        [146, 66],
        [120, 94],
        [88, 112],
        [150, 118],
        [118, 134],
        [72, 86],
        [168, 92],
      ].map(([x, y], i) => (
        <circle
          key={`${x}-${y}`}
          cx={x}
          cy={y}
          r="10"
          fill={st.toppings[i % st.toppings.length]}
          stroke="#000"
          strokeOpacity="0.12"
          strokeWidth="2"
        />
      ))}
      {st.basil &&
        [
          [112, 58, 30],
          [134, 108, -40],
          [100, 126, 70],
          [160, 56, 10],
          [80, 100, -20],
        ].map(([x, y, r]) => (
          <ellipse
            key={`${x}-${y}`}
            cx={x}
            cy={y}
            rx="9"
            ry="4.5"
            fill="#2f8a3a"
            transform={`rotate(${r} ${x} ${y})`}
          />
        ))}
    </>
  );
}

/** Desserts: a pie or cheesecake slice, a hand pie, a skillet cookie, a dessert pizza, or a sundae. */
function Dessert({ name }: { name: string }) {
  const n = name.toLowerCase();
  if (n.includes("pizza")) return <Pizza name={name} />;
  if (n.includes("hand pie"))
    return (
      <>
        {shadow}
        <path d="M48 140 A72 72 0 0 1 192 140 Z" fill="#e0a04f" />
        <path d="M58 140 A62 62 0 0 1 182 140" stroke="#c7833a" strokeWidth="4" fill="none" />
        {[60, 80, 100, 120, 140, 160, 180].map((x) => (
          <rect key={x} x={x - 3} y="134" width="6" height="12" rx="3" fill="#c7833a" />
        ))}
        {[
          [96, 110],
          [120, 96],
          [146, 112],
          [110, 126],
          [134, 128],
        ].map(([x, y]) => (
          <circle key={`${x}-${y}`} cx={x} cy={y} r="3" fill="#fff3d6" />
        ))}
      </>
    );
  if (n.includes("cookie"))
    return (
      <>
        {shadow}
        <rect x="176" y="84" width="58" height="14" rx="7" fill="#2b2b2b" />
        <circle cx="120" cy="92" r="68" fill="#2f2f2f" />
        <circle cx="120" cy="92" r="58" fill="#d9a25b" />
        {[
          [92, 70],
          [140, 66],
          [104, 114],
          [150, 110],
          [80, 96],
          [122, 136],
        ].map(([x, y]) => (
          <circle key={`${x}-${y}`} cx={x} cy={y} r="6" fill="#4e2a16" />
        ))}
        <circle cx="122" cy="90" r="24" fill="#fbf1e1" />
        <path d="M100 96 Q110 110 122 100 Q134 112 144 96" fill="#fbf1e1" />
      </>
    );
  if (n.includes("pie") || n.includes("cheesecake")) {
    const lime = n.includes("lime");
    const top = lime ? "#eaf5a8" : "#fff6dc";
    const side = lime ? "#d4ea7a" : "#f8e8bd";
    return (
      <>
        {shadow}
        <ellipse cx="122" cy="144" rx="92" ry="14" fill="#ffffff" />
        <path d="M40 110 L176 70 L204 92 Z" fill={top} />
        <path d="M40 110 L204 92 L204 128 L40 138 Z" fill={side} />
        <path d="M40 138 L204 128 L204 142 L40 150 Z" fill="#d9a25b" />
        <path d="M176 70 L204 92 L204 142 L196 140 L196 96 Z" fill="#c7833a" opacity="0.5" />
        {lime ? (
          <>
            <circle cx="160" cy="84" r="12" fill="#ffffff" />
            <path d="M150 72 A12 12 0 0 1 172 72 Z" fill="#7cb342" transform="rotate(-20 160 76)" />
          </>
        ) : (
          <path d="M40 110 L176 70 L204 92 L188 100 Q170 92 150 104 Q120 96 96 108 Q70 104 52 112 Z" fill="#d0213a" />
        )}
      </>
    );
  }
  return ART.dessert;
}

/** A takeaway cup; its band colour follows the drink. */
function Drink({ name }: { name: string }) {
  const n = name.toLowerCase();
  const band = n.includes("lemonade")
    ? "#f2b705"
    : n.includes("palmer")
      ? "#e67e22"
      : n.includes("tea")
        ? "#8d4f26"
        : n.includes("coffee") || n.includes("brew")
          ? "#4e342e"
          : n.includes("shake")
            ? "#e0609a"
            : n.includes("float") || n.includes("root")
              ? "#6d4c41"
              : "#e53935";
  return (
    <>
      {shadow}
      <path d="M128 50 L146 10 L154 13 L137 52 Z" fill="#ff7043" />
      <path d="M140 24 L147 27 M144 16 L151 19" stroke="#fff" strokeWidth="3" />
      <path d="M82 58 L158 58 L146 156 L94 156 Z" fill="#ffffff" />
      <path d="M86 92 L154 92 L150 124 L90 124 Z" fill={band} />
      <path d="M98 108 q6 -8 12 0 t12 0 t12 0 t12 0" stroke="#fff" strokeWidth="3.5" fill="none" />
      <rect x="76" y="46" width="88" height="14" rx="7" fill="#e6ecf1" />
      <path d="M86 46 Q120 30 154 46 Z" fill="#d5dde4" />
      <circle cx="104" cy="140" r="3" fill="#9ec9e8" />
      <circle cx="124" cy="134" r="2.5" fill="#9ec9e8" />
      <circle cx="134" cy="144" r="2" fill="#9ec9e8" />
    </>
  );
}

/** Light backgrounds that make each picture pop on the dark cards. */
export const ART_BG: Record<ArtKind, string> = {
  burger: "#ffe3c2",
  pizza: "#ffd8c9",
  salad: "#dcf2d0",
  fries: "#ffe9b3",
  dessert: "#fbdde9",
  drink: "#d4eafa",
  hot: "#d8efe9",
  kids: "#fff0b0",
  plate: "#e6ebf0",
};

/** A decorative food picture (hidden from screen readers: the item name says it all); `name` picks the details. */
export function FoodArt({ kind, name = "" }: { kind: ArtKind; name?: string }) {
  return (
    <svg viewBox="0 0 240 172" aria-hidden="true" focusable="false">
      {kind === "burger" && <Burger name={name} />}
      {kind === "pizza" && <Pizza name={name} />}
      {kind === "drink" && <Drink name={name} />}
      {kind === "dessert" && <Dessert name={name} />}
      {kind !== "burger" && kind !== "pizza" && kind !== "drink" && kind !== "dessert" && ART[kind]}
    </svg>
  );
}

/** The store's mark: waves in a ring. */
export function Logo({ size = 96 }: { size?: number }) {
  return (
    <svg width={size} height={size} viewBox="0 0 100 100" aria-hidden="true" focusable="false">
      <circle cx="50" cy="50" r="46" fill="#f5a524" />
      <circle cx="50" cy="50" r="38" fill="#0b1f33" />
      {[40, 54, 68].map((y) => (
        <path
          key={y}
          d={`M22 ${y} q7 -8 14 0 t14 0 t14 0 t14 0`}
          stroke="#f5a524"
          strokeWidth="5"
          fill="none"
          strokeLinecap="round"
        />
      ))}
    </svg>
  );
}

/** Eat here: a plate with cutlery. */
export function EatHereArt() {
  return (
    <svg viewBox="0 0 240 172" aria-hidden="true" focusable="false">
      <ellipse cx="120" cy="100" rx="70" ry="62" fill="#ffffff" />
      <ellipse cx="120" cy="100" rx="50" ry="44" fill="#e8eef3" />
      <g fill="#a6b3bf">
        <rect x="28" y="40" width="8" height="116" rx="4" />
        <rect x="20" y="40" width="4" height="34" rx="2" />
        <rect x="40" y="40" width="4" height="34" rx="2" />
        <path d="M20 70 H44 Q44 84 32 84 Q20 84 20 70 Z" />
        <path d="M204 40 Q220 60 216 100 H208 V156 H200 V40 Z" />
      </g>
      <circle cx="108" cy="92" r="14" fill="#e2452f" />
      <circle cx="134" cy="106" r="16" fill="#58b046" />
      <circle cx="118" cy="118" r="10" fill="#f7c331" />
    </svg>
  );
}

/** Take away: a paper bag with handles. */
export function TakeAwayArt() {
  return (
    <svg viewBox="0 0 240 172" aria-hidden="true" focusable="false">
      <path d="M94 56 Q94 24 120 24 Q146 24 146 56" stroke="#8a5a2b" strokeWidth="8" fill="none" />
      <path d="M66 50 H174 L184 164 H56 Z" fill="#c8965e" />
      <path d="M66 50 H174 L170 64 H70 Z" fill="#b07f4a" />
      <circle cx="120" cy="108" r="26" fill="#0b1f33" />
      {[100, 112].map((y) => (
        <path
          key={y}
          d={`M104 ${y} q4 -5 8 0 t8 0 t8 0 t8 0`}
          stroke="#f5a524"
          strokeWidth="3.5"
          fill="none"
          strokeLinecap="round"
        />
      ))}
    </svg>
  );
}
