export default function HomePage() {
  return (
    <main className="mx-auto max-w-2xl p-8">
      <h1 className="text-2xl font-semibold">project_llm</h1>
      <p className="mt-4 text-neutral-600 dark:text-neutral-400">
        The pipeline core and the <code>project-llm</code> command line are ready; the browser studio is being built.
        Run a pipeline from a terminal with <code>npx project-llm run --input &quot;Once upon a time&quot;</code>.
      </p>
    </main>
  );
}
