import { Suspense } from "react";
import { RunPage } from "@/components/run/run-page";

export default function Page() {
  return (
    <Suspense>
      <RunPage />
    </Suspense>
  );
}
