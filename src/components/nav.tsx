"use client";
import Link from "next/link";
import { usePathname } from "next/navigation";

const links = [
  { href: "/", label: "Run" },
  { href: "/editor", label: "Editor" },
  { href: "/history", label: "History" },
  { href: "/models", label: "Models" },
];

export function Nav() {
  const pathname = usePathname();
  return (
    <header className="border-b border-neutral-200 dark:border-neutral-800">
      <nav aria-label="Main" className="mx-auto flex max-w-[1600px] items-center gap-1 px-4 py-2">
        <Link href="/" className="mr-4 font-semibold tracking-tight">
          project_llm
        </Link>
        {links.map((link) => {
          const active = link.href === "/" ? pathname === "/" : pathname.startsWith(link.href);
          return (
            <Link
              key={link.href}
              href={link.href}
              aria-current={active ? "page" : undefined}
              className={`rounded px-3 py-1.5 text-sm focus-visible:outline-2 focus-visible:outline-blue-500 ${
                active ? "bg-neutral-200 font-medium dark:bg-neutral-800" : "text-neutral-600 hover:bg-neutral-100 dark:text-neutral-400 dark:hover:bg-neutral-900"
              }`}
            >
              {link.label}
            </Link>
          );
        })}
      </nav>
    </header>
  );
}
