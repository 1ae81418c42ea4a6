import { UsersPage } from "@/components/auth/users-page";

export default function Page() {
  return <UsersPage />;
}
