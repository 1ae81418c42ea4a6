import { ModelsPage } from "@/components/models-page";

export default function Page() {
  return <ModelsPage />;
}
